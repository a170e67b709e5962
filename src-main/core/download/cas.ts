import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { OkError } from '@contract/errors';

const HEX = /^[0-9a-f]{64}$/;
const READ_CHUNK = 1 << 20;

export interface ContentEntry {
  sha256: string;
  size: number;
  path: string;
}

export type VerifyResult = { ok: true } | { ok: false; actual: string };

export function isSha256Hex(s: string): boolean {
  return HEX.test(s);
}

/** Feed bytes [0, end) of a file (all of it when `end` is omitted) into `hash`; returns the count. */
export async function hashFileInto(hash: Hash, file: string, end?: number): Promise<number> {
  if (end === 0) return 0;
  let n = 0;
  const stream = createReadStream(file, {
    highWaterMark: READ_CHUNK,
    ...(end === undefined ? {} : { end: end - 1 }),
  });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    n += chunk.length;
  }
  return n;
}

export async function sha256File(file: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  const size = await hashFileInto(hash, file);
  return { sha256: hash.digest('hex'), size };
}

/** fsync a file or directory, so its data (or a rename inside it) survives a power cut. */
async function syncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * A content-addressed store: each file lives at `<root>/sha256/<hex>` and is
 * only ever put there whole, by rename.
 */
export class ContentStore {
  readonly dir: string;

  constructor(readonly root: string) {
    this.dir = join(root, 'sha256');
  }

  path(hex: string): string {
    if (!HEX.test(hex)) {
      throw new OkError('INVALID_INPUT', `"${hex}" is not a SHA-256 digest (64 lowercase hex characters).`);
    }
    return join(this.dir, hex);
  }

  /** True when the store holds `hex` (and, if `size` is given, with that size). */
  async has(hex: string, size?: number): Promise<boolean> {
    const have = await this.sizeOf(hex);
    return have !== null && (size === undefined || have === size);
  }

  /** Size of the stored file, or null when the store does not hold `hex`. */
  async sizeOf(hex: string): Promise<number | null> {
    try {
      const st = await stat(this.path(hex));
      return st.isFile() ? st.size : null;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  /** Re-hash a stored file. */
  async verify(hex: string): Promise<VerifyResult> {
    const file = this.path(hex);
    let actual: string;
    try {
      actual = (await sha256File(file)).sha256;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new OkError('NOT_FOUND', `The content store has no file ${hex} (looked for ${file}).`);
      }
      throw e;
    }
    return actual === hex ? { ok: true } : { ok: false, actual };
  }

  /** Copy a file in, hashing it on the way; atomic (temp file, fsync, rename). */
  async importFile(src: string): Promise<ContentEntry> {
    await mkdir(this.dir, { recursive: true });
    const tmp = join(this.dir, `.import-${randomBytes(6).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    try {
      const out = await open(tmp, 'w');
      try {
        for await (const chunk of createReadStream(src, { highWaterMark: READ_CHUNK }) as AsyncIterable<Buffer>) {
          hash.update(chunk);
          await out.write(chunk, 0, chunk.length, size);
          size += chunk.length;
        }
        await out.sync();
      } finally {
        await out.close();
      }
      const sha256 = hash.digest('hex');
      const path = this.path(sha256);
      await rename(tmp, path);
      await syncPath(this.dir);
      return { sha256, size, path };
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  /**
   * Move a finished file (on the same filesystem) into the store under `hex`,
   * which the caller has computed: fsync, rename, fsync the directory.
   * Returns the stored path.
   */
  async adopt(src: string, hex: string): Promise<string> {
    const path = this.path(hex);
    await syncPath(src);
    await mkdir(this.dir, { recursive: true });
    await rename(src, path);
    await syncPath(this.dir);
    return path;
  }

  /** Delete a stored file; false when it was not there. */
  async remove(hex: string): Promise<boolean> {
    const path = this.path(hex);
    try {
      await rm(path);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  }

  async list(): Promise<Array<{ sha256: string; size: number }>> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: Array<{ sha256: string; size: number }> = [];
    for (const name of names.filter((n) => HEX.test(n)).sort()) {
      try {
        out.push({ sha256: name, size: (await stat(join(this.dir, name))).size });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    return out;
  }
}
