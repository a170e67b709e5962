/**
 * This folder (core/remote/) holds remote 9p shares: how the VM's supervisor reaches a 9p server that is not
 * on this machine's filesystem, and relays each guest 9p connection to it byte for byte. No Electron, no
 * front end, no 9P parsing.
 *
 * How the supervisor's relay reaches a remote 9p server: one `Duplex` per guest connection, carrying the
 * 9P bytes as they are (the relay never parses them). TCP is here (tcp.ts); other transports (9p over QUIC,
 * `9p+quic://`, in quic*.ts) implement the same interface and are picked by `transportFor`.
 */
import type { Duplex } from 'node:stream';
import { OkError } from '@contract/errors';
import { parseRemoteUrl } from './url';
import { TcpTransport } from './tcp';

export interface RemoteTransport {
  /** What it connects to, for messages ("tcp 127.0.0.1:564"). */
  readonly label: string;
  /** A new connection to the server; rejects with a message that names the server and the cause. */
  connect(): Promise<Duplex>;
  /** Releases what the transport holds between connections (a QUIC connection); optional. */
  close?(): Promise<void>;
}

/** A transport factory for other URL schemes, registered by their modules (e.g. `9p+quic`). */
export type TransportFactory = (url: string) => RemoteTransport;
const factories = new Map<string, TransportFactory>();

export function registerTransport(scheme: string, factory: TransportFactory): void {
  factories.set(scheme.toLowerCase(), factory);
}

/** The transport for a stored remote share URL. */
export function transportFor(url: string): RemoteTransport {
  const scheme = /^([A-Za-z0-9][A-Za-z0-9+.-]*):/.exec(url)?.[1]?.toLowerCase();
  const factory = scheme ? factories.get(scheme) : undefined;
  if (factory) return factory(url);
  if (scheme !== '9p') throw new OkError('UNSUPPORTED', `no transport for the remote share "${url}"`);
  const u = parseRemoteUrl(url);
  return new TcpTransport(u.host, u.port);
}
