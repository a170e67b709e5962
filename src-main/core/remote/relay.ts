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
import { Writable, type Duplex } from 'node:stream';
import type { RemoteTransport } from './transport';

/** The longest first line (the tag) a relay client may send. */
const MAX_HEADER = 64;

export interface RelayEvents {
  /** A guest connection asked the server for another export than its share's (it was closed). */
  refused?(tag: string, reason: string): void;
  /** A guest connection reached the server. */
  connected?(tag: string): void;
  /** A guest connection could not reach the server (`reason` names it and the cause). */
  unreachable?(tag: string, reason: string): void;
}

export interface RelayShare {
  tag: string;
  transport: RemoteTransport;
  /**
   * The share's attach name (the URL's path, "" for none): a Tattach or Tauth from the guest that names
   * another is refused and the connection closed, so a guest reaches only the export the user shared, not
   * every export the server grants this host (or, over mTLS, the user's certificate). Undefined: unchecked.
   */
  aname?: string;
}

export class Relay {
  private readonly server: net.Server;
  private readonly open = new Set<Duplex>();

  private constructor(
    readonly socketPath: string,
    private readonly shares: ReadonlyMap<string, RelayShare>,
    private readonly events: RelayEvents,
  ) {
    this.server = net.createServer((client) => this.accept(client));
  }

  static async listen(socketPath: string, shares: RelayShare[], events: RelayEvents = {}): Promise<Relay> {
    const relay = new Relay(socketPath, new Map(shares.map((s) => [s.tag, s])), events);
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
      const share = this.shares.get(tag);
      if (!share) {
        client.destroy();
        return;
      }
      share.transport.connect().then(
        (remote) => {
          if (client.destroyed) {
            remote.destroy();
            return;
          }
          this.open.add(remote);
          remote.on('close', () => this.open.delete(remote));
          this.events.connected?.(tag);
          const toServer =
            share.aname === undefined
              ? remote
              : anameGuard(share.aname, remote, (why) => {
                  this.events.refused?.(tag, why);
                  client.destroy();
                  remote.destroy();
                });
          if (rest.length) toServer.write(rest);
          pipeBoth(client, remote, toServer);
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
    await Promise.all([...this.shares.values()].map((s) => s.transport.close?.().catch(() => undefined)));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    fs.rmSync(this.socketPath, { force: true });
  }
}

/** Pipes a into `aToB` (b, or a filter in front of it) and b into a; when either ends or fails, both are closed. */
function pipeBoth(a: Duplex, b: Duplex, aToB: Writable = b): void {
  const done = (): void => {
    a.destroy();
    b.destroy();
  };
  a.on('error', done);
  b.on('error', done);
  a.on('close', done);
  b.on('close', done);
  a.pipe(aToB);
  b.pipe(a);
}

/** 9P message types whose body carries an attach name: Tauth (afid) and Tattach (fid, afid). */
const TAUTH = 102;
const TATTACH = 104;
/** The largest Tauth/Tattach accepted: two 16-bit strings and a few words. */
const MAX_ATTACH = 7 + 4 + 4 + 2 * (2 + 0xffff) + 4;

/**
 * The guest-to-server direction of a remote share, framed by 9P's size[4] type[1] tag[2] header: other
 * messages stream through unbuffered; a Tauth or Tattach is held whole and passed only when its aname is
 * `aname`. Anything else (a different aname, a malformed frame) calls `refuse` and passes nothing more.
 */
function anameGuard(aname: string, server: Writable, refuse: (why: string) => void): Writable {
  let head = Buffer.alloc(0);
  /** Bytes of the current non-attach frame still to pass through. */
  let through = 0;
  let refused = false;
  const no = (why: string): void => {
    if (refused) return;
    refused = true;
    refuse(why);
  };
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      let buf = head.length ? Buffer.concat([head, chunk]) : chunk;
      head = Buffer.alloc(0);
      const out: Buffer[] = [];
      while (!refused && buf.length) {
        if (through > 0) {
          const n = Math.min(through, buf.length);
          out.push(buf.subarray(0, n));
          buf = buf.subarray(n);
          through -= n;
          continue;
        }
        if (buf.length < 7) break;
        const size = buf.readUInt32LE(0);
        const type = buf.readUInt8(4);
        if (size < 7) {
          no(`the guest sent a 9P message of size ${size}`);
          break;
        }
        if (type !== TAUTH && type !== TATTACH) {
          through = size;
          continue;
        }
        if (size > MAX_ATTACH) {
          no(`the guest sent a ${type === TAUTH ? 'Tauth' : 'Tattach'} of ${size} bytes`);
          break;
        }
        if (buf.length < size) break;
        const asked = attachName(buf.subarray(7, size), type === TATTACH ? 8 : 4);
        if (asked !== aname) {
          no(
            asked === null
              ? 'the guest sent a malformed attach message'
              : // quoted and cut short: the guest's bytes go into the host's log
                `the guest asked for the export ${JSON.stringify(asked.slice(0, 200))} instead of "${aname}"`,
          );
          break;
        }
        out.push(buf.subarray(0, size));
        buf = buf.subarray(size);
      }
      if (!refused) head = Buffer.from(buf);
      const data = out.length === 1 ? out[0]! : Buffer.concat(out);
      if (refused || !data.length) return done();
      if (server.write(data)) done();
      else server.once('drain', () => done());
    },
  });
}

/** The aname of a Tauth/Tattach body: after `skip` bytes of fids, uname[s] then aname[s]; null if cut short. */
function attachName(body: Buffer, skip: number): string | null {
  if (body.length < skip + 2) return null;
  const unameEnd = skip + 2 + body.readUInt16LE(skip);
  if (body.length < unameEnd + 2) return null;
  const len = body.readUInt16LE(unameEnd);
  if (body.length < unameEnd + 2 + len) return null;
  return body.subarray(unameEnd + 2, unameEnd + 2 + len).toString('utf8');
}
