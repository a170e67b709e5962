/**
 * A VM's root filesystem as an ext4 disk image (the guest's /dev/vda), made and changed without root:
 *
 * - Filled from a bundle's rootfs (`format` ext4 or raw, or ext4.gz / ext4.zst / ext4.xz, decompressed as a
 *   stream), from a user's image (`create --root-disk FILE`: a copy unless `--rw`), or from a VM's 9p root
 *   (`oklinux root to-disk`: `mkfs.ext4 -d`). Every copy is made as a temp file renamed into place, cloned
 *   where the filesystem can (FICLONE), else written sparse: runs of zero blocks are skipped, not written.
 * - Before every boot the app writes /sbin/oklinux-init and the shares' fstab block into the image with
 *   `debugfs -w` (e2fsprogs), as it does into a 9p root directory: no mount and no initramfs, so the
 *   guest boots the image's own files with the same init. `e2fsck -p` runs first (it replays the journal a
 *   crashed guest left, which debugfs would not). Paths in the image are resolved as a chroot would
 *   (its links followed inside the image only); what was written is read back and compared.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createGunzip } from 'node:zlib';
import { OkError } from '@core/errors';
import { which } from '@core/host-tools';
import { MOUNT_POINTS, withShares } from './root';

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
  const found = which(name, [env.PATH ?? '', '/usr/sbin', '/sbin'].join(path.delimiter));
  if (found) return found;
  const pkg = PACKAGES[name] ?? name;
  throw new OkError(
    'UNSUPPORTED',
    `${name} is not installed; okLinux needs it ${why}. Install it (Debian/Ubuntu: "apt-get install ${pkg}"; Fedora: "dnf install ${pkg}").`,
  );
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(bin: string, args: string[], opts: { stdin?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.stdin ?? '');
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

/** One entry of `debugfs ls -p`: `/ino/mode/uid/gid/name/size/`. */
interface DirEntry {
  mode: number;
  size: number;
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFREG = 0o100000;

/** Double-quoted for debugfs's command parser; a name with a quote or line break is refused. */
function q(vm: string, s: string): string {
  if (/["\n\r\\]/.test(s)) {
    throw new OkError(
      'INVALID_INPUT',
      `The root disk of "${vm}" has a path with a quote or line break (${JSON.stringify(s)}); okLinux cannot write its init there.`,
    );
  }
  return `"${s}"`;
}

/** debugfs on one image: read-only requests, and a write session from a command file. */
class Debugfs {
  private readonly lists = new Map<string, Map<string, DirEntry>>();

  constructor(
    private readonly bin: string,
    private readonly image: string,
    private readonly vm: string,
  ) {}

  async request(cmd: string): Promise<RunResult> {
    return run(this.bin, ['-R', cmd, this.image]);
  }

  async list(dir: string): Promise<Map<string, DirEntry> | null> {
    const cached = this.lists.get(dir);
    if (cached) return cached;
    const r = await this.request(`ls -p ${q(this.vm, dir)}`);
    const out = new Map<string, DirEntry>();
    let any = false;
    for (const line of r.stdout.split('\n')) {
      const m = /^\/(\d+)\/(\d+)\/\d+\/\d+\/(.*)\/(\d*)\/$/.exec(line);
      if (!m) continue;
      any = true;
      out.set(m[3]!, { mode: parseInt(m[2]!, 8), size: Number(m[4] || 0) });
    }
    if (!any) return null; // not a directory (even an empty one lists "." and "..")
    this.lists.set(dir, out);
    return out;
  }

  /** A symlink's target: `stat` shows a fast link's; a longer one is read with `dump`. */
  async linkTarget(p: string): Promise<string> {
    const r = await this.request(`stat ${q(this.vm, p)}`);
    const m = /Fast link dest: "(.*)"/.exec(r.stdout);
    if (m) return m[1]!;
    const tmp = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'oklinux-link-'));
    try {
      await this.request(`dump ${q(this.vm, p)} ${q(this.vm, path.join(tmp, 'l'))}`);
      return await fs.promises.readFile(path.join(tmp, 'l'), 'utf8');
    } finally {
      await fs.promises.rm(tmp, { recursive: true, force: true });
    }
  }

  /**
   * `p` resolved inside the image as a chroot would (links followed, absolute ones from the image's root),
   * with the type of what is there; null when a component is missing or the links loop.
   */
  async resolve(p: string): Promise<{ path: string; entry: DirEntry | null } | null> {
    let parts = p.split('/').filter(Boolean);
    let out: string[] = [];
    for (let hops = 0; parts.length;) {
      const part = parts.shift()!;
      if (part === '.') continue;
      if (part === '..') {
        out.pop();
        continue;
      }
      const dir = `/${out.join('/')}`;
      const entries = await this.list(dir);
      if (!entries) return null;
      const e = entries.get(part);
      if (!e) return parts.length ? null : { path: path.posix.join(dir, part), entry: null };
      if ((e.mode & S_IFMT) === S_IFLNK) {
        if (++hops > 40) return null;
        const target = await this.linkTarget(path.posix.join(dir, part));
        parts = [...target.split('/').filter(Boolean), ...parts];
        if (target.startsWith('/')) out = [];
        continue;
      }
      if (!parts.length) return { path: path.posix.join(dir, part), entry: e };
      out.push(part);
    }
    return { path: `/${out.join('/')}`, entry: { mode: S_IFDIR | 0o755, size: 0 } };
  }

  async write(commands: string[]): Promise<RunResult> {
    this.lists.clear();
    return run(this.bin, ['-w', '-f', '-', this.image], { stdin: `${commands.join('\n')}\n` });
  }
}

/**
 * Make an ext4 root disk bootable by okLinux, before every boot: journal replayed (`e2fsck -p`), the mount
 * points a root needs made, /sbin/oklinux-init installed and the shares written into /etc/fstab's managed
 * block, then both read back and compared. The image must not be in use.
 */
export async function prepareRootDisk(opts: {
  vm: string;
  disk: string;
  initScript: string;
  fstabLines: string[];
  env?: NodeJS.ProcessEnv;
}): Promise<void> {
  const { vm, disk } = opts;
  const st = fs.lstatSync(disk, { throwIfNoEntry: false });
  if (!st?.isFile()) {
    throw new OkError('NOT_FOUND', `The root disk ${disk} of "${vm}" is missing or not a regular file.`);
  }
  if (!(await isExtImage(disk))) {
    throw new OkError('INVALID_INPUT', `The root disk ${disk} of "${vm}" is not an ext4 image.`);
  }
  const e2fsck = diskTool('e2fsck', opts.env);
  const fsck = await run(e2fsck, ['-p', disk]);
  if (fsck.code >= 4) {
    throw new OkError(
      'INVALID_INPUT',
      `The root disk ${disk} of "${vm}" has errors e2fsck -p cannot mend (exit ${fsck.code}): ${fsck.stdout.trim()} ${fsck.stderr.trim()}. ` +
        `Repair it with "e2fsck -f ${disk}" and start the VM again.`,
    );
  }
  const dfs = new Debugfs(diskTool('debugfs', opts.env), disk, vm);
  const top = await dfs.list('/');
  if (!top) throw new OkError('INVALID_INPUT', `The root disk ${disk} of "${vm}" cannot be read by debugfs.`);

  const cmds: string[] = [];
  // mount points first (the kernel mounts devtmpfs on /dev before init runs), then /sbin and /etc
  for (const [dir, mode] of Object.entries(MOUNT_POINTS)) {
    const name = dir.slice(1);
    if (top.has(name)) continue;
    cmds.push(`mkdir ${q(vm, dir)}`, `sif ${q(vm, dir)} mode 0${(S_IFDIR | mode).toString(8)}`);
    cmds.push(`sif ${q(vm, dir)} uid 0`, `sif ${q(vm, dir)} gid 0`);
  }
  const dirOf = async (dir: string): Promise<string> => {
    const r = await dfs.resolve(dir);
    if (r?.entry && (r.entry.mode & S_IFMT) === S_IFDIR) return r.path;
    if (r && !r.entry && !top.has(dir.slice(1))) {
      cmds.push(
        `mkdir ${q(vm, dir)}`,
        `sif ${q(vm, dir)} mode 040755`,
        `sif ${q(vm, dir)} uid 0`,
        `sif ${q(vm, dir)} gid 0`,
      );
      return dir;
    }
    throw new OkError(
      'INVALID_INPUT',
      `The root disk ${disk} of "${vm}" has ${dir}, but it is not a directory (or a link that leads nowhere in the image); fix it.`,
    );
  };
  const sbin = await dirOf('/sbin');
  const etc = await dirOf('/etc');
  const initPath = path.posix.join(sbin, 'oklinux-init');
  const fstabPath = path.posix.join(etc, 'fstab');

  const tmp = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'oklinux-disk-'));
  try {
    // the current fstab, when it is a regular file of a sane size
    const entries = (await dfs.list(etc)) ?? new Map<string, DirEntry>();
    const old = entries.get('fstab');
    let current = '';
    if (old && (old.mode & S_IFMT) === S_IFREG) {
      if (old.size > 1 << 20) {
        throw new OkError(
          'INVALID_INPUT',
          `${fstabPath} in the root disk ${disk} of "${vm}" is ${old.size} bytes, more than an fstab can be; remove or shorten it.`,
        );
      }
      await dfs.request(`dump ${q(vm, fstabPath)} ${q(vm, path.join(tmp, 'fstab.old'))}`);
      current = fs.readFileSync(path.join(tmp, 'fstab.old'), 'utf8');
    }
    const next = withShares(current, opts.fstabLines);
    const init = await fs.promises.readFile(opts.initScript);
    fs.writeFileSync(path.join(tmp, 'init'), init, { mode: 0o755 });
    fs.writeFileSync(path.join(tmp, 'fstab'), next, { mode: 0o644 });

    const replace = (dir: string, name: string, src: string, mode: number, existing: DirEntry | undefined): void => {
      cmds.push(`cd ${q(vm, dir)}`);
      if (existing) cmds.push(`${(existing.mode & S_IFMT) === S_IFDIR ? 'rmdir' : 'rm'} ${q(vm, name)}`);
      cmds.push(`write ${q(vm, src)} ${q(vm, name)}`, `sif ${q(vm, name)} mode 0${(S_IFREG | mode).toString(8)}`);
      cmds.push(`sif ${q(vm, name)} uid 0`, `sif ${q(vm, name)} gid 0`, 'cd /');
    };
    const sbinEntries = (await dfs.list(sbin)) ?? new Map<string, DirEntry>();
    replace(sbin, 'oklinux-init', path.join(tmp, 'init'), 0o755, sbinEntries.get('oklinux-init'));
    if (next !== current || !old || (old.mode & S_IFMT) !== S_IFREG) {
      replace(etc, 'fstab', path.join(tmp, 'fstab'), 0o644, old);
    }
    const w = await dfs.write(cmds);
    // read back what the guest will see
    const check = async (p: string, want: Buffer | string, what: string): Promise<void> => {
      const out = path.join(tmp, `check-${path.posix.basename(p)}`);
      await fs.promises.rm(out, { force: true });
      await dfs.request(`dump ${q(vm, p)} ${q(vm, out)}`);
      const got = fs.existsSync(out) ? fs.readFileSync(out) : null;
      if (!got || !got.equals(Buffer.from(want))) {
        throw new OkError(
          'VMM',
          `okLinux could not write ${what} (${p}) into the root disk ${disk} of "${vm}": ${w.stderr.replace(/^debugfs [^\n]*\n/, '').trim() || 'debugfs wrote something else'}`,
        );
      }
    };
    await check(initPath, init, 'its init');
    await check(fstabPath, next, 'the shares');
    const after = await dfs.list('/');
    for (const dir of Object.keys(MOUNT_POINTS)) {
      if (!after?.has(dir.slice(1)))
        throw new OkError(
          'VMM',
          `okLinux could not make ${dir} in the root disk ${disk} of "${vm}": ${w.stderr.trim()}`,
        );
    }
  } finally {
    await fs.promises.rm(tmp, { recursive: true, force: true });
  }
}
