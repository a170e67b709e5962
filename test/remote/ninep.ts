/**
 * A minimal 9P2000.L client for tests: enough to version, attach, walk, open, read and clunk over any byte
 * stream (a TCP socket to diod, or a QUIC stream through the relay's transport). Messages are tagged, so
 * several may be in flight.
 */
import type { Duplex } from 'node:stream';

export const T = { version: 100, attach: 104, walk: 110, lopen: 12, read: 116, clunk: 120 } as const;
const RLERROR = 7;
const NOTAG = 0xffff;
export const NOFID = 0xffffffff;

function str(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const h = Buffer.alloc(2);
  h.writeUInt16LE(b.length);
  return Buffer.concat([h, b]);
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}
function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}
function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}

/** One T-message as it goes on the wire: size[4] type[1] tag[2], then its fields. */
export function tmessage(type: number, tag: number, parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(7);
  head.writeUInt32LE(7 + body.length, 0);
  head.writeUInt8(type, 4);
  head.writeUInt16LE(tag, 5);
  return Buffer.concat([head, body]);
}

/** Tattach's fields: fid[4] afid[4] (none) uname[s] aname[s] n_uname[4]. */
export function attachFields(fid: number, aname: string, uid: number, uname = ''): Buffer[] {
  return [u32(fid), u32(NOFID), str(uname), str(aname), u32(uid)];
}

export class NinePError extends Error {
  constructor(
    readonly errno: number,
    what: string,
  ) {
    super(`${what}: Rlerror errno ${errno}`);
  }
}

export interface Reply {
  type: number;
  body: Buffer;
}

export class NineP {
  private buf: Buffer = Buffer.alloc(0);
  private readonly pending = new Map<
    number,
    { resolve: (r: Reply) => void; reject: (e: Error) => void; what: string; want: number }
  >();
  private nextTag = 1;
  private failure: Error | null = null;
  /** Every byte this client received, counted (for "byte for byte" checks). */
  received = 0;

  constructor(readonly io: Duplex) {
    io.on('data', (d: Buffer) => this.onData(d));
    const fail = (e: Error) => {
      this.failure = e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    io.on('error', fail);
    io.on('close', () => fail(new Error('9p stream closed')));
  }

  private onData(d: Buffer): void {
    this.received += d.length;
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    while (this.buf.length >= 7) {
      const size = this.buf.readUInt32LE(0);
      if (this.buf.length < size) break;
      const type = this.buf.readUInt8(4);
      const tag = this.buf.readUInt16LE(5);
      const body = this.buf.subarray(7, size);
      this.buf = this.buf.subarray(size);
      const p = this.pending.get(tag);
      if (!p) continue;
      this.pending.delete(tag);
      if (type === RLERROR) p.reject(new NinePError(body.readUInt32LE(0), p.what));
      else if (type !== p.want) p.reject(new Error(`${p.what}: reply type ${type}, wanted ${p.want}`));
      else p.resolve({ type, body });
    }
  }

  /** Sends one T-message and resolves with its R-message's body. */
  rpc(type: number, parts: Buffer[], what: string, tag?: number): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    const t = tag ?? this.takeTag();
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(t, { resolve, reject, what, want: type + 1 });
      this.io.write(tmessage(type, t, parts));
    });
  }

  private takeTag(): number {
    const t = this.nextTag;
    this.nextTag = this.nextTag >= 0xfffe ? 1 : this.nextTag + 1;
    return t;
  }

  async version(msize: number, version = '9P2000.L'): Promise<{ msize: number; version: string }> {
    const r = await this.rpc(T.version, [u32(msize), str(version)], 'Tversion', NOTAG);
    const len = r.body.readUInt16LE(4);
    return { msize: r.body.readUInt32LE(0), version: r.body.subarray(6, 6 + len).toString('utf8') };
  }

  /** Tattach; returns the root's qid type (0x80 = directory). */
  async attach(fid: number, aname: string, uid: number, uname = ''): Promise<number> {
    const r = await this.rpc(T.attach, attachFields(fid, aname, uid, uname), 'Tattach');
    return r.body.readUInt8(0);
  }

  async walk(fid: number, newfid: number, names: string[]): Promise<number> {
    const r = await this.rpc(T.walk, [u32(fid), u32(newfid), u16(names.length), ...names.map(str)], 'Twalk');
    return r.body.readUInt16LE(0);
  }

  async lopen(fid: number, flags = 0): Promise<{ iounit: number }> {
    const r = await this.rpc(T.lopen, [u32(fid), u32(flags)], 'Tlopen');
    return { iounit: r.body.readUInt32LE(13) };
  }

  async read(fid: number, offset: number, count: number): Promise<Buffer> {
    const r = await this.rpc(T.read, [u32(fid), u64(offset), u32(count)], 'Tread');
    const n = r.body.readUInt32LE(0);
    return r.body.subarray(4, 4 + n);
  }

  async clunk(fid: number): Promise<void> {
    await this.rpc(T.clunk, [u32(fid)], 'Tclunk');
  }

  /** Reads a whole file (already walked to `fid`), `depth` reads in flight; returns its bytes' count and SHA input. */
  async readAll(fid: number, chunk: number, onData: (b: Buffer) => void, depth = 1): Promise<number> {
    await this.lopen(fid, 0);
    let offset = 0;
    let total = 0;
    let eof = false;
    const inflight: Promise<Buffer>[] = [];
    while (!eof || inflight.length) {
      while (!eof && inflight.length < depth) {
        inflight.push(this.read(fid, offset, chunk));
        offset += chunk;
      }
      const b = await inflight.shift()!;
      if (b.length === 0) eof = true;
      else {
        total += b.length;
        onData(b);
        if (b.length < chunk) eof = true;
      }
    }
    return total;
  }
}
