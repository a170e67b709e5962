/**
 * The remote-share relay, owned by a VM's supervisor. The guest mounts each remote share from a fixed
 * virtual address (guest.ts); QEMU's user-mode networking hands each such connection to a small program on
 * its stdio (`guestfwd=…-cmd:`, resources/host/oklinux-9p-relay.mjs), which connects to this relay's unix
 * socket in the VM's socket folder (private to the user: nothing secret is needed or passed) and sends the
 * share's tag on one line. The relay then opens the share's own connection through its `RemoteTransport`
 * (TCP, or QUIC) and pipes the bytes both ways, unparsed. Because the supervisor, not the guest, connects,
 * a server on the host's loopback works, and `restricted` VMs (which reach nothing else) can use it too.
 */
import fs from 'node:fs';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { RemoteTransport } from './transport';

/** The longest first line (the tag) a relay client may send. */
const MAX_HEADER = 64;

export interface RelayEvents {
  /** A guest connection reached the server. */
  connected?(tag: string): void;
  /** A guest connection could not reach the server (`reason` names it and the cause). */
  unreachable?(tag: string, reason: string): void;
}

export interface RelayShare {
  tag: string;
  transport: RemoteTransport;
}

export class Relay {
  private readonly server: net.Server;
  private readonly open = new Set<Duplex>();

  private constructor(
    readonly socketPath: string,
    private readonly shares: ReadonlyMap<string, RemoteTransport>,
    private readonly events: RelayEvents,
  ) {
    this.server = net.createServer((client) => this.accept(client));
  }

  static async listen(socketPath: string, shares: RelayShare[], events: RelayEvents = {}): Promise<Relay> {
    const relay = new Relay(socketPath, new Map(shares.map((s) => [s.tag, s.transport])), events);
    fs.rmSync(socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      relay.server.once('error', reject);
      relay.server.listen(socketPath, () => resolve());
    });
    fs.chmodSync(socketPath, 0o600);
    return relay;
  }

  private accept(client: net.Socket): void {
    this.open.add(client);
    client.on('close', () => this.open.delete(client));
    client.on('error', () => client.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const nl = head.indexOf(10);
      if (nl < 0) {
        if (head.length > MAX_HEADER) client.destroy();
        return;
      }
      client.off('data', onData);
      client.pause();
      const tag = head.subarray(0, nl).toString('utf8');
      const rest = head.subarray(nl + 1);
      const transport = this.shares.get(tag);
      if (!transport) {
        client.destroy();
        return;
      }
      transport.connect().then(
        (remote) => {
          if (client.destroyed) {
            remote.destroy();
            return;
          }
          this.open.add(remote);
          remote.on('close', () => this.open.delete(remote));
          this.events.connected?.(tag);
          if (rest.length) remote.write(rest);
          pipeBoth(client, remote);
          client.resume();
        },
        (e: Error) => {
          this.events.unreachable?.(tag, e.message);
          client.destroy();
        },
      );
    };
    client.on('data', onData);
  }

  async close(): Promise<void> {
    for (const s of this.open) s.destroy();
    // a QUIC transport holds its connection (and UDP socket) between guest connections
    await Promise.all([...this.shares.values()].map((t) => t.close?.().catch(() => undefined)));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    fs.rmSync(this.socketPath, { force: true });
  }
}

/** Pipes a and b into each other; when either ends or fails, both are closed. */
function pipeBoth(a: Duplex, b: Duplex): void {
  const done = (): void => {
    a.destroy();
    b.destroy();
  };
  a.on('error', done);
  b.on('error', done);
  a.on('close', done);
  b.on('close', done);
  a.pipe(b);
  b.pipe(a);
}
