/**
 * Which transport reaches a stored remote share URL: `9p://` is TCP (tcp.ts); `9p+quic://` is JetStream
 * (quic.ts), loaded only when a VM has such a share (`openTransport`), because its QUIC library is heavy and
 * most VMs' supervisors never need it. Other schemes may register a factory. Kept apart from transport.ts,
 * which the transports import for the interface.
 */
import { OkError } from '@contract/errors';
import type { RemoteTransport } from './transport';
import { isQuicUrl, parseRemoteUrl } from './url';
import { TcpTransport } from './tcp';
import { parseQuicUrl, type QuicTlsFiles } from './quic-url';

/** A stored remote share as the supervisor's relay gets it: its URL, and a 9p+quic share's TLS file paths. */
export interface RemoteTarget {
  url: string;
  tls?: QuicTlsFiles;
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

/**
 * The transport for a remote share, as the supervisor opens it: QUIC for `9p+quic://` (the library is
 * imported here, on first use), else `transportFor`. A share whose transport cannot be made (the library
 * does not load on this platform, no TLS files) gets one whose every connection fails with that reason,
 * so the share shows as unreachable and the VM still boots.
 */
export async function openTransport(target: RemoteTarget): Promise<RemoteTransport> {
  if (!isQuicUrl(target.url)) return transportFor(target.url);
  const addr = parseQuicUrl(target.url);
  const label = `quic ${addr.host}:${addr.port}`;
  if (!target.tls)
    return failing(label, `${target.url} has no CA file: remove the share and add it again with --ca FILE`);
  try {
    const { QuicTransport } = await import('./quic');
    return new QuicTransport(addr, target.tls);
  } catch (e) {
    return failing(label, `the QUIC library (@matrixai/quic) cannot be loaded here: ${(e as Error).message}`);
  }
}

function failing(label: string, reason: string): RemoteTransport {
  return { label, connect: () => Promise.reject(new OkError('UNSUPPORTED', reason)) };
}
