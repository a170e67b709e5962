/**
 * This folder (core/remote/) holds remote 9p shares: how the VM's supervisor reaches a 9p server that is not
 * on this machine's filesystem, and relays each guest 9p connection to it byte for byte. No Electron, no
 * front end, no 9P parsing: a relay carries the bytes of a 9P2000.L session and nothing else.
 *
 * `RemoteTransport` is the relay's outbound side: each `connect()` gives a fresh byte stream to the server,
 * carrying one whole 9P session (the first frame the guest sends is its Tversion). TCP (`9p://`) and QUIC
 * (`9p+quic://`, JetStream, quic.ts) both fit it.
 */
import type { Duplex } from 'node:stream';

export interface RemoteTransport {
  /** A new byte stream to the server, for one 9P session. Rejects with an OkError naming the cause. */
  connect(): Promise<Duplex>;
  /** Drops what the transport holds open (a QUIC connection). Streams already given out end with it. */
  close?(): Promise<void>;
}
