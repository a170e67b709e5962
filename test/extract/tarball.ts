/**
 * Hand-written ustar archives for extraction tests, so that members which no
 * well-behaved tar writer would produce (`../x`, absolute paths, escaping
 * links, devices) can be built byte for byte.
 */
import { gzipSync } from 'node:zlib';

export interface Member {
  name: string;
  /** 'file' (default), 'dir', 'symlink', 'hardlink', 'char', 'block', 'fifo'. */
  type?: 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';
  mode?: number;
  data?: string | Buffer;
  /** Target of a symlink or hard link. */
  link?: string;
  /** Size to claim in the header; defaults to the data's length. */
  size?: number;
}

const TYPEFLAG = { file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' };

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function header(m: Member, size: number): Buffer {
  const h = Buffer.alloc(512);
  const type = m.type ?? 'file';
  if (Buffer.byteLength(m.name) > 100) throw new Error(`test tar: name too long: ${m.name}`);
  h.write(m.name, 0, 'utf8');
  h.write(octal(m.mode ?? (type === 'dir' ? 0o755 : 0o644), 8), 100);
  h.write(octal(0, 8), 108);
  h.write(octal(0, 8), 116);
  h.write(octal(size, 12), 124);
  h.write(octal(1_700_000_000, 12), 136);
  h.write(TYPEFLAG[type], 156);
  if (m.link) h.write(m.link, 157, 'utf8');
  h.write('ustar\0', 257);
  h.write('00', 263);
  h.write('root', 265);
  h.write('root', 297);
  if (type === 'char' || type === 'block') {
    h.write(octal(1, 8), 329);
    h.write(octal(3, 8), 337);
  }
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

/** An uncompressed tar of `members`, ended by two zero blocks. */
export function tarBytes(members: Member[]): Buffer {
  const parts: Buffer[] = [];
  for (const m of members) {
    const data = Buffer.from(m.data ?? '');
    const size = m.size ?? data.length;
    parts.push(header(m, size));
    if (size > 0) {
      const body = Buffer.alloc(Math.ceil(size / 512) * 512);
      data.copy(body);
      parts.push(body);
    }
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function tarGz(members: Member[]): Buffer {
  return gzipSync(tarBytes(members));
}
