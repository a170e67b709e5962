/**
 * A VM's root filesystem as an ext4 disk image (the guest's /dev/vda), made and changed without root:
 *
 * - Filled from a bundle's rootfs (`format` ext4 or raw, or ext4.gz / ext4.zst / ext4.xz, decompressed as a
 *   stream), from a user's image (`create --root-disk FILE`: a copy unless `--rw`), or from a VM's 9p root
 *   (`oklinux root to-disk`: `mkfs.ext4 -d`). Every copy is made as a temp file renamed into place, cloned
 *   where the filesystem can (FICLONE), else written sparse: runs of zero blocks are skipped, not written.
 * - Before every boot the app writes its init and the shares into the image (disk-init.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createGunzip } from 'node:zlib';
import { OkError } from '@core/errors';
import { which } from '@core/host-tools';
import { relationToDataDir } from '@core/shares/host';

/** The formats a bundle's rootfs may have that make an ext4 root disk (`raw` is an uncompressed image). */
export const DISK_FORMATS = ['ext4', 'ext4.gz', 'ext4.zst', 'ext4.xz', 'raw'] as const;
export type DiskFormat = (typeof DISK_FORMATS)[number];

export function isDiskFormat(format: string | null | undefined): format is DiskFormat {
  return (DISK_FORMATS as readonly string[]).includes(format ?? '');
}

/** The ext4 superblock starts at byte 1024; its magic 0xEF53 is at offset 56 in it. */
const EXT_MAGIC_OFFSET = 1024 + 56;
const BLOCK = 4096;
const CHUNK = 1 << 20;

/** Host programs, with the Debian package that has each. */
const PACKAGES: Record<string, string> = {
  'mkfs.ext4': 'e2fsprogs',
  debugfs: 'e2fsprogs',
  e2fsck: 'e2fsprogs',
  zstd: 'zstd',
  xz: 'xz-utils',
};

/** A program on PATH (or in /usr/sbin, /sbin: e2fsprogs lives there, often off a user's PATH), else a clear error. */
export function diskTool(name: string, env: NodeJS.ProcessEnv = process.env, why = 'for ext4 root disks'): string {
  const found = findDiskTool(name, env);
  if (found) return found;
  const pkg = PACKAGES[name] ?? name;
  throw new OkError(
    'UNSUPPORTED',
    `${name} is not installed; okLinux needs it ${why}. Install it (Debian/Ubuntu: "apt-get install ${pkg}"; Fedora: "dnf install ${pkg}").`,
  );
}

const SBIN_DIRS = ['/usr/sbin', '/sbin'];

function findDiskTool(name: string, env: NodeJS.ProcessEnv, sbin = SBIN_DIRS): string | null {
  return which(name, [env.PATH ?? '', ...sbin].join(path.delimiter));
}

/** The doctor's line when the programs ext4 disk roots need are missing (null when all are there). */
export function diskToolsWarning(env: NodeJS.ProcessEnv = process.env, sbin = SBIN_DIRS): string | null {
  const missing = ['mkfs.ext4', 'debugfs', 'e2fsck'].filter((n) => !findDiskTool(n, env, sbin));
  if (!missing.length) return null;
  return (
    `${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not installed: ext4 disk roots (--root-disk, ` +
    `"oklinux root to-disk", ext4 bundles) need them. Install e2fsprogs (Debian/Ubuntu: "apt-get install e2fsprogs"; ` +
    `Fedora: "dnf install e2fsprogs"). 9p roots do not need it.`
  );
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(bin: string, args: string[], opts: { stdin?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    // stdin only for a program that reads it (debugfs -f -): writing to one that already exited is EPIPE
    const input = opts.stdin;
    const child = spawn(bin, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    if (child.stdin) {
      child.stdin.on('error', () => undefined); // a program that quits early: its exit code tells
      child.stdin.end(input);
    }
  });
}

/** Whether `file` starts with an ext2/3/4 superblock. */
export async function isExtImage(file: string): Promise<boolean> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const b = Buffer.alloc(2);
    const { bytesRead } = await fh.read(b, 0, 2, EXT_MAGIC_OFFSET);
    return bytesRead === 2 && b.readUInt16LE(0) === 0xef53;
  } finally {
    await fh.close();
  }
}

/**
 * Write a stream of bytes to `fh` from offset 0, leaving holes where whole 4 KiB blocks are zero; the file
 * ends at the stream's length. Returns that length.
 */
async function writeSparse(fh: fs.promises.FileHandle, chunks: AsyncIterable<Buffer>): Promise<number> {
  let pos = 0;
  let pending: Buffer = Buffer.alloc(0);
  const flush = async (buf: Buffer, last: boolean): Promise<Buffer> => {
    let i = 0;
    while (i < buf.length) {
      const end = Math.min(i + BLOCK, buf.length);
      if (end - i < BLOCK && !last) break;
      // a run of blocks that are not all zero goes out in one write
      let j = i;
      while (j < buf.length) {
        const e = Math.min(j + BLOCK, buf.length);
        if (e - j < BLOCK && !last) break;
        if (isZero(buf, j, e)) break;
        j = e;
      }
      if (j > i) {
        await writeAll(fh, buf.subarray(i, j), pos + i);
        i = j;
      } else {
        i = end; // a zero block: a hole
      }
    }
    pos += i;
    return buf.subarray(i);
  };
  for await (const c of chunks) {
    pending = pending.length ? Buffer.concat([pending, c]) : c;
    if (pending.length >= CHUNK) pending = Buffer.from(await flush(pending, false));
  }
  await flush(pending, true);
  await fh.truncate(pos);
  return pos;
}

function isZero(buf: Buffer, from: number, to: number): boolean {
  for (let k = from; k < to; k++) if (buf[k] !== 0) return false;
  return true;
}

async function writeAll(fh: fs.promises.FileHandle, buf: Buffer, at: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, at + done);
    done += bytesWritten;
  }
}

/** A temp file beside `dest`, renamed over it only when `fill` succeeded. */
async function intoPlace(dest: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  await fs.promises.mkdir(path.dirname(dest), { recursive: true });
  const tmp = `${dest}.tmp-${process.pid}-${Date.now()}`;
  try {
    await fill(tmp);
    await fs.promises.rename(tmp, dest);
  } finally {
    await fs.promises.rm(tmp, { force: true });
  }
}

/** The output of a decompressing program, as a stream; a failure names the program and what it said. */
async function* fromProgram(bin: string, args: string[], what: string): AsyncIterable<Buffer> {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const closed = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? -1));
  });
  try {
    for await (const c of child.stdout) yield c as Buffer;
    const code = await closed;
    if (code !== 0) {
      throw new OkError(
        'INVALID_INPUT',
        `${what} could not be decompressed: ${path.basename(bin)} exited ${code}: ${stderr.trim()}`,
      );
    }
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

/**
 * Copy an image to `dest` (temp file + rename): a clone where the filesystem shares blocks (btrfs, XFS),
 * else a sparse copy. `src` is only read.
 */
export async function copyDisk(src: string, dest: string): Promise<void> {
  await intoPlace(dest, async (tmp) => {
    try {
      await fs.promises.copyFile(src, tmp, fs.constants.COPYFILE_FICLONE_FORCE);
      return;
    } catch {
      // no clone here: copy, leaving the zero blocks out
    }
    const fh = await fs.promises.open(tmp, 'w', 0o600);
    try {
      await writeSparse(fh, fs.createReadStream(src, { highWaterMark: CHUNK }) as AsyncIterable<Buffer>);
    } finally {
      await fh.close();
    }
  });
}

/** A bundle's rootfs in one of `DISK_FORMATS` made into the VM's own disk at `dest`, decompressed as a stream. */
export async function diskFromRootfs(
  src: string,
  format: DiskFormat,
  dest: string,
  opts: { vm: string; env?: NodeJS.ProcessEnv },
): Promise<void> {
  const what = `The rootfs of "${opts.vm}" (${src})`;
  if (format === 'ext4' || format === 'raw') await copyDisk(src, dest);
  else {
    const stream = (): AsyncIterable<Buffer> => {
      if (format === 'ext4.gz') return fs.createReadStream(src).pipe(createGunzip()) as AsyncIterable<Buffer>;
      const tool = format === 'ext4.zst' ? 'zstd' : 'xz';
      const bin = diskTool(tool, opts.env, `to decompress the ${format} rootfs of "${opts.vm}"`);
      return fromProgram(bin, ['-dc', '--', src], what);
    };
    await intoPlace(dest, async (tmp) => {
      const fh = await fs.promises.open(tmp, 'w', 0o600);
      try {
        await writeSparse(fh, stream());
      } catch (e) {
        if (e instanceof OkError) throw e;
        throw new OkError('INVALID_INPUT', `${what} could not be decompressed: ${(e as Error).message}`, { cause: e });
      } finally {
        await fh.close();
      }
    });
  }
  if (!(await isExtImage(dest))) {
    await fs.promises.rm(dest, { force: true });
    throw new OkError('INVALID_INPUT', `${what} is not an ext4 image (its manifest says format "${format}").`);
  }
}

/** Bytes a tree takes: every entry's size rounded up to 4 KiB blocks, plus one block per entry for its inode. */
export async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  const walk = async (d: string): Promise<void> => {
    for (const e of await fs.promises.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const st = await fs.promises.lstat(p);
      total += Math.ceil(st.size / BLOCK) * BLOCK + BLOCK;
      if (st.isDirectory()) await walk(p);
    }
  };
  await walk(dir);
  return total;
}

export const MIB = 1024 * 1024;

/** The default size of a disk made from a tree: what it holds × 1.5 plus 256 MiB, in whole MiB. */
export function defaultDiskBytes(used: number): number {
  return Math.ceil((used * 1.5 + 256 * MIB) / MIB) * MIB;
}

/**
 * Make an ext4 image of `sizeBytes` (sparse) at `dest` holding the tree `dir` (`mkfs.ext4 -d`, no root, no
 * mount): a temp file renamed into place. A size too small for the tree is refused, naming what would fit.
 */
export async function diskFromDir(
  dir: string,
  dest: string,
  sizeBytes: number,
  opts: { vm: string; env?: NodeJS.ProcessEnv },
): Promise<void> {
  const mkfs = diskTool('mkfs.ext4', opts.env, 'to make an ext4 root disk');
  await intoPlace(dest, async (tmp) => {
    const kib = Math.floor(sizeBytes / 1024);
    // made first, private (mkfs.ext4 would make it with the umask's mode), then filled
    await (await fs.promises.open(tmp, 'wx', 0o600)).close();
    const r = await run(mkfs, ['-q', '-F', '-t', 'ext4', '-L', 'oklinux-root', '-d', dir, tmp, `${kib}k`]);
    if (r.code !== 0) {
      const full = /Could not allocate block|No space left|inode_table|too small/i.test(r.stderr);
      throw new OkError(
        full ? 'INVALID_INPUT' : 'VMM',
        full
          ? `The root of "${opts.vm}" does not fit in ${Math.round(sizeBytes / MIB)} MiB; give a larger --size (it holds about ${Math.ceil((await treeBytes(dir)) / MIB)} MiB).`
          : `mkfs.ext4 could not make the root disk of "${opts.vm}": ${r.stderr.trim() || `exit ${r.code}`}`,
      );
    }
  });
}

/**
 * Checks a `--root-disk` and returns its realpath: a regular file (not a directory or device), readable (and
 * writable with `--rw`), holding an ext4 filesystem, and not inside the data directory (whose files the app
 * manages and deletes) unless it is this VM's own disk (`ownDisk`).
 */
export async function checkRootDiskFile(
  given: string,
  opts: { dataDir: string; writable: boolean; ownDisk: string },
): Promise<string> {
  const what = `--root-disk ${given}`;
  if (!path.isAbsolute(given)) throw new OkError('INVALID_INPUT', `${what} is not an absolute path.`);
  let real: string;
  try {
    real = await fs.promises.realpath(given);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new OkError(
      code === 'ENOENT' || code === 'ENOTDIR' ? 'NOT_FOUND' : 'INVALID_INPUT',
      code === 'ENOENT' || code === 'ENOTDIR'
        ? `${what} does not exist. Give an ext4 image file (e.g. one made with "mkfs.ext4 -d DIR FILE SIZE").`
        : `${what} cannot be resolved (${code ?? String(e)}); check that you can reach it.`,
      { cause: e },
    );
  }
  const shown = real === given ? what : `${what} (which leads to ${real})`;
  const st = await fs.promises.stat(real);
  if (st.isDirectory()) {
    throw new OkError(
      'INVALID_INPUT',
      `${shown} is a directory. Give an ext4 image file, or use --root-dir to boot a folder over 9p.`,
    );
  }
  if (!st.isFile()) {
    throw new OkError('INVALID_INPUT', `${shown} is not a regular file (a device or pipe); give an ext4 image file.`);
  }
  if (real !== opts.ownDisk) {
    const dataReal = await fs.promises.realpath(opts.dataDir);
    const rel = await relationToDataDir(real, dataReal);
    if (rel === 'same' || rel === 'inside') {
      throw new OkError(
        'INVALID_INPUT',
        `${shown} is inside the okLinux data directory ${dataReal}, whose files the app manages and deletes. Copy it out of there first.`,
      );
    }
  }
  try {
    await fs.promises.access(real, opts.writable ? fs.constants.R_OK | fs.constants.W_OK : fs.constants.R_OK);
  } catch {
    throw new OkError(
      'INVALID_INPUT',
      opts.writable
        ? `${shown} is not writable by you; --rw boots the file itself and changes it. Leave out --rw to boot a copy.`
        : `${shown} is not readable by you.`,
    );
  }
  if (!(await isExtImage(real))) {
    throw new OkError(
      'INVALID_INPUT',
      `${shown} is not an ext4 image (it has no ext4 superblock). Make one with "mkfs.ext4 -d DIR FILE SIZE", or convert a VM with "oklinux root to-disk".`,
    );
  }
  return real;
}

/** At start: a user's disk (`--rw`) is still its own realpath and still passes `checkRootDiskFile`. */
export async function recheckRootDisk(stored: string, opts: { dataDir: string; ownDisk: string }): Promise<string> {
  const real = await checkRootDiskFile(stored, { ...opts, writable: true });
  if (real !== stored) {
    throw new OkError(
      'INVALID_INPUT',
      `The root disk ${stored} now leads to ${real}: a link was put in its path since it was chosen, and okLinux does not follow it. Create the VM again with the file you mean.`,
    );
  }
  return real;
}
