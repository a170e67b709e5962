/**
 * Which transport reaches a stored remote share URL: `9p://` is TCP (tcp.ts); other schemes register a
 * factory (`9p+quic`, quic.ts). Kept apart from transport.ts, which the transports import for the interface.
 */
import { OkError } from '@contract/errors';
import type { RemoteTransport } from './transport';
import { parseRemoteUrl } from './url';
import { TcpTransport } from './tcp';

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
