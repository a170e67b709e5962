/**
 * Before every boot of a disk root, the app writes /sbin/oklinux-init and the shares' fstab block into the
 * ext4 image with `debugfs -w` (e2fsprogs), as it does into a 9p root directory: no root, no mount and no
 * initramfs, so the guest boots the image's own files with the same init. `e2fsck -p` runs first (it replays
 * the journal a crashed guest left, which debugfs would not). Paths in the image are resolved as a chroot
 * would (its links followed inside the image only); what was written is read back and compared.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OkError } from '@core/errors';
import { diskTool, isExtImage, run, type RunResult } from './disk';
import { MOUNT_POINTS, withShares } from './root';

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
