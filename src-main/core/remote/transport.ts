/**
 * This folder (core/remote/) holds remote 9p shares: how the VM's supervisor reaches a 9p server that is not
 * on this machine's filesystem, and relays each guest 9p connection to it byte for byte. No Electron, no
 * front end, no 9P parsing.
 *
 * How the supervisor's relay reaches a remote 9p server: one `Duplex` per guest connection, carrying the
 * 9P bytes as they are (the relay never parses them). TCP is here (tcp.ts); other transports (9p over QUIC,
 * `9p+quic://`, in quic*.ts) implement the same interface and are picked by `openTransport` (registry.ts).
 */
import type { Duplex } from 'node:stream';

export interface RemoteTransport {
  /** What it connects to, for messages ("tcp 127.0.0.1:564"). */
  readonly label: string;
  /** A new connection to the server; rejects with a message that names the server and the cause. */
  connect(): Promise<Duplex>;
  /** Releases what the transport holds between connections (a QUIC connection); optional. */
  close?(): Promise<void>;
}
