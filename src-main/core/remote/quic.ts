/**
 * JetStream: 9p over QUIC. One QUIC connection per remote share, opened on the first `connect()` and again
 * after it drops; each `connect()` opens one bidirectional stream on it, which carries one 9P2000.L session
 * byte for byte (JetStream routes a stream by its first frame, the Tversion, so the relay parses nothing).
 *
 * QUIC and TLS come from @matrixai/quic (Cloudflare's quiche with BoringSSL, prebuilt per platform). TLS:
 * ALPN "jetstream"; the server's certificate must chain to the one CA given (--ca: a trust store holding only
 * it, no system roots) and name the URL's host; a client certificate and key (mTLS) when given. The key's
 * contents stay in this process's memory.
 */
import dns from 'node:dns/promises';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { webcrypto } from 'node:crypto';
import type { QUICClient } from '@matrixai/quic';
import type * as QuicModule from '@matrixai/quic';
import type Logger from '@matrixai/logger';
import { OkError } from '@contract/errors';
import type { RemoteTransport } from './transport';
import { QuicStreamDuplex } from './quic-stream';
import { JETSTREAM_ALPN, readQuicTls, type QuicAddress, type QuicTlsFiles } from './quic-url';

/**
 * The QUIC library, imported on first use: it is heavy (a native module), and the supervisor's bundle keeps
 * a static import of it even behind a dynamic import of this file, so it is loaded here, not at the top.
 */
type QuicLib = typeof QuicModule;
let lib: { quic: QuicLib; Logger: typeof Logger; level: number } | null = null;
async function loadQuic(): Promise<NonNullable<typeof lib>> {
  if (!lib) {
    const [quic, logger] = await Promise.all([import('@matrixai/quic'), import('@matrixai/logger')]);
    lib = { quic, Logger: logger.default, level: logger.LogLevel.ERROR };
  }
  return lib;
}

/** How long a handshake may take before the server counts as unreachable (UDP gets no "refused"). */
export const QUIC_CONNECT_TIMEOUT_MS = 10_000;
/** A connection silent this long (no answer to our pings either) is dropped; the next connect() reopens it. */
export const QUIC_IDLE_TIMEOUT_MS = 30_000;
/** Ping interval that keeps an idle but healthy connection (a mounted share nobody reads) open. */
export const QUIC_KEEPALIVE_MS = 10_000;
/** Bytes handed to the relay per read: a whole 64 KiB 9P message (JetStream's msize cap is 64 KiB + 24). */
const READ_CHUNK = 64 * 1024 + 24;

/** TLS alert numbers (RFC 8446 §6) that a QUIC CRYPTO_ERROR (0x100 + alert) carries. */
const ALERTS: Record<number, string> = {
  40: 'handshake_failure',
  42: 'bad_certificate',
  43: 'unsupported_certificate',
  44: 'certificate_revoked',
  45: 'certificate_expired',
  46: 'certificate_unknown',
  48: 'unknown_ca',
  80: 'internal_error',
  116: 'certificate_required',
  120: 'no_application_protocol',
};

export interface QuicTransportOptions {
  connectTimeoutMs?: number;
  /** Resolves the URL's host (default: the system resolver, IPv4 first). */
  lookup?: (host: string) => Promise<string>;
}

async function defaultLookup(host: string): Promise<string> {
  try {
    return (await dns.lookup(host, { family: 4 })).address;
  } catch {
    return (await dns.lookup(host, { family: 6 })).address;
  }
}

/** Says why a connection failed, naming the cause and the fix, from the library's error. */
export function describeQuicFailure(e: unknown, addr: QuicAddress, files: QuicTlsFiles): OkError {
  if (e instanceof OkError) return e;
  const where = `${addr.host}:${addr.port}`;
  if (!lib) return new OkError('NETWORK', `${where}: QUIC connection failed: ${String(e)}`);
  const qerrors = lib.quic.errors;
  if (e == null) return new OkError('NETWORK', `${where}: the QUIC stream was closed`);
  const data = (e as { data?: { errorCode?: number } } | null | undefined)?.data;
  const code = data?.errorCode;
  const alert = typeof code === 'number' && code >= 0x100 && code <= 0x1ff ? code - 0x100 : undefined;
  const name = alert !== undefined ? ` (TLS alert ${ALERTS[alert] ?? alert})` : '';
  if (e instanceof qerrors.ErrorQUICConnectionLocalTLS) {
    if (alert === 48)
      return new OkError(
        'NETWORK',
        `${where}: the server's certificate is not signed by the CA in ${files.ca} (--ca)${name}; give the CA that issued it`,
      );
    if (alert === 42)
      return new OkError(
        'NETWORK',
        `${where}: the server's certificate does not name "${addr.host}", or is not a valid server certificate${name}; use the host name written in it`,
      );
    if (alert === 45) return new OkError('NETWORK', `${where}: the server's certificate has expired${name}`);
    return new OkError(
      'NETWORK',
      `${where}: TLS handshake failed on this side${name}: the server's certificate was refused`,
    );
  }
  if (e instanceof qerrors.ErrorQUICConnectionPeerTLS) {
    if (alert === 120)
      return new OkError(
        'NETWORK',
        `${where}: the server does not speak ALPN "${JETSTREAM_ALPN}"${name}; is it a JetStream server, on that port?`,
      );
    if (alert === 116 || (alert === 40 && !files.cert))
      return new OkError(
        'NETWORK',
        `${where}: the server requires a client certificate (mTLS)${name}; give --cert FILE --key FILE`,
      );
    if (alert === 48 || alert === 42 || alert === 46)
      return new OkError(
        'NETWORK',
        `${where}: the server refused the client certificate ${files.cert ?? ''} (--cert)${name}; it must be signed by a CA the server trusts`,
      );
    if (alert === 45)
      return new OkError('NETWORK', `${where}: the server says the client certificate has expired${name}`);
    return new OkError('NETWORK', `${where}: the server ended the TLS handshake${name}`);
  }
  if (e instanceof qerrors.ErrorQUICConnectionIdleTimeout)
    return new OkError(
      'TIMEOUT',
      `${where}: the server stopped answering (nothing for ${QUIC_IDLE_TIMEOUT_MS / 1000} s); the next connection retries`,
    );
  if (e instanceof qerrors.ErrorQUICClientCreateTimeout || e instanceof qerrors.ErrorQUICConnectionStartTimeout)
    return new OkError(
      'TIMEOUT',
      `${where}: no QUIC answer within ${QUIC_CONNECT_TIMEOUT_MS / 1000} s; is a JetStream server listening on UDP port ${addr.port}?`,
    );
  if (e instanceof qerrors.ErrorQUICConnectionPeer)
    return new OkError('NETWORK', `${where}: the server closed the connection (code ${code ?? '?'})`);
  const msg = e instanceof Error ? e.message : String(e);
  if ((e as NodeJS.ErrnoException | null | undefined)?.code === 'ENOTFOUND')
    return new OkError('NETWORK', `${where}: host "${addr.host}" not found`);
  return new OkError('NETWORK', `${where}: QUIC connection failed: ${msg}`, { cause: e });
}

/**
 * The outbound side of a `9p+quic://` share's relay. `connect()` is safe to call concurrently: callers share
 * the connection being opened.
 */
export class QuicTransport implements RemoteTransport {
  private client: QUICClient | null = null;
  private opening: Promise<QUICClient> | null = null;
  private closed = false;
  /**
   * Why the last connection ended, when it failed: a refusal that TLS 1.3 reports after the handshake (the
   * server wanted a client certificate) arrives here and on the streams, not from connect().
   */
  lastFailure: OkError | null = null;
  private logger: Logger | null = null;

  constructor(
    readonly addr: QuicAddress,
    readonly files: QuicTlsFiles,
    private readonly opts: QuicTransportOptions = {},
  ) {}

  /** What it connects to, for messages. */
  get label(): string {
    return `quic ${this.addr.host}:${this.addr.port}`;
  }

  /** True while a QUIC connection is open (for the share's state). */
  get connected(): boolean {
    return this.client !== null && !this.client.closed;
  }

  async connect(): Promise<Duplex> {
    // A connection that dropped between our check and newStream() is opened once more.
    for (let attempt = 0; ; attempt++) {
      const client = await this.ensureClient();
      try {
        const stream = client.connection.newStream('bidi');
        return new QuicStreamDuplex(stream, (e) => this.lastFailure ?? describeQuicFailure(e, this.addr, this.files));
      } catch (e) {
        this.forget(client);
        if (attempt >= 1) throw describeQuicFailure(e, this.addr, this.files);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const c = this.client ?? (await this.opening?.catch(() => null)) ?? null;
    this.client = null;
    if (c && !c.closed) await c.destroy({ force: true }).catch(() => undefined);
  }

  private forget(client: QUICClient): void {
    if (this.client === client) this.client = null;
  }

  private ensureClient(): Promise<QUICClient> {
    if (this.closed) return Promise.reject(new OkError('CONFLICT', 'this QUIC transport was closed'));
    if (this.client && !this.client.closed) return Promise.resolve(this.client);
    this.client = null;
    this.opening ??= this.open().finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  private async open(): Promise<QUICClient> {
    const tls = readQuicTls(this.files);
    const { quic, Logger: L, level } = await loadQuic();
    this.logger ??= new L('quic', level);
    const { host, port } = this.addr;
    let address: string;
    try {
      address = await (this.opts.lookup ?? defaultLookup)(host);
    } catch (e) {
      throw new OkError('NETWORK', `${host}:${port}: host "${host}" could not be resolved: ${(e as Error).message}`);
    }
    const timeout = this.opts.connectTimeoutMs ?? QUIC_CONNECT_TIMEOUT_MS;
    let client: QUICClient;
    try {
      client = await quic.QUICClient.createQUICClient(
        {
          host: address,
          port,
          serverName: host,
          // The library binds "::" by default, which fails on a host with IPv6 turned off.
          localHost: net.isIPv6(address) ? '::' : '0.0.0.0',
          crypto: { ops: { randomBytes: async (b: ArrayBuffer) => void webcrypto.getRandomValues(new Uint8Array(b)) } },
          config: {
            applicationProtos: [JETSTREAM_ALPN],
            verifyPeer: true,
            ca: tls.ca,
            ...(tls.cert && tls.key ? { cert: tls.cert, key: tls.key } : {}),
            maxIdleTimeout: QUIC_IDLE_TIMEOUT_MS,
            keepAliveIntervalTime: QUIC_KEEPALIVE_MS,
            readableChunkSize: READ_CHUNK,
          },
          logger: this.logger,
        },
        { timer: timeout },
      );
    } catch (e) {
      this.lastFailure = describeQuicFailure(e, this.addr, this.files);
      throw this.lastFailure;
    }
    if (this.closed) {
      await client.destroy({ force: true }).catch(() => undefined);
      throw new OkError('CONFLICT', 'this QUIC transport was closed');
    }
    this.client = client;
    this.lastFailure = null;
    client.addEventListener(
      quic.events.EventQUICClientClose.name,
      (evt) => {
        const e = (evt as InstanceType<QuicLib['events']['EventQUICClientClose']>).detail;
        if (!this.closed && e) this.lastFailure = describeQuicFailure(e, this.addr, this.files);
        this.forget(client);
      },
      { once: true },
    );
    void client.closedP.then(() => this.forget(client));
    return client;
  }
}
