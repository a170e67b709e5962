/** The TCP transport of remote 9p shares: a plain TCP connection to HOST:PORT per guest connection. */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { RemoteTransport } from './transport';

/** How long a connection attempt may take before the guest's mount is failed. */
export const CONNECT_TIMEOUT_MS = 4000;

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused (is the server running?)',
  ETIMEDOUT: 'no answer',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'unknown host name',
  EAI_AGAIN: 'host name lookup failed',
};

export class TcpTransport implements RemoteTransport {
  readonly label: string;
  constructor(
    readonly host: string,
    readonly port: number,
    private readonly timeoutMs = CONNECT_TIMEOUT_MS,
  ) {
    this.label = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  connect(): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host: this.host, port: this.port });
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`cannot reach ${this.label}: no answer in ${this.timeoutMs / 1000} s`));
      }, this.timeoutMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        // 9P is request/response: small messages must not wait for Nagle
        sock.setNoDelay(true);
        sock.removeAllListeners('error');
        resolve(sock);
      });
      sock.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new Error(`cannot reach ${this.label}: ${REASONS[e.code ?? ''] ?? e.message}`));
      });
    });
  }
}
