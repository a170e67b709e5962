/** A client of a VM supervisor's console socket. */
import net from 'node:net';
import { OkError } from '@contract/errors';
import { onLines, send, type ClientMessage, type ServerMessage } from './protocol';

export class ConsoleClient {
  private constructor(private readonly sock: net.Socket) {}

  static connect(socketPath: string, onMessage: (m: ServerMessage) => void, timeoutMs = 3000): Promise<ConsoleClient> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(socketPath);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new OkError('TIMEOUT', `The VM's console socket ${socketPath} did not answer within ${timeoutMs} ms.`));
      }, timeoutMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        onLines<ServerMessage>(sock, onMessage);
        resolve(new ConsoleClient(sock));
      });
      sock.once('error', (e) => {
        clearTimeout(timer);
        reject(new OkError('VMM', `Cannot reach the VM's console at ${socketPath}: ${e.message}`, { cause: e }));
      });
    });
  }

  send(m: ClientMessage): void {
    send(this.sock, m);
  }

  onClose(fn: () => void): void {
    this.sock.once('close', fn);
  }

  close(): void {
    this.sock.end();
    this.sock.destroy();
  }
}
