/**
 * A VM's root filesystem, served over 9p ("rootless" okLinux): a directory on
 * the host, filled once from the bundle's rootfs tarball (or chosen with
 * --root-dir), into which the app installs its guest init and the shares'
 * fstab lines before every boot.
 *
 * Security model: QEMU exports it with `security_model=none` (bldy's p9 server
 * behaves the same way): the guest's file operations are done with the host
 * user's own rights, and files the guest creates are owned by that user, so
 * they stay readable and deletable on the host. `mapped-xattr` would keep guest
 * owners and modes in xattrs instead, but it breaks symlinks made on the host
 * (as in every rootfs tarball) and leaves files the host user sees with
 * meaningless modes; Lima chose `none` for the same reasons.
 */
import fs from 'node:fs';
import path from 'node:path';
import { OkError } from '@core/errors';
import { extractTree } from '@core/extract';
import { recheckRootDir } from '@core/shares/host';

export const GUEST_INIT_PATH = '/sbin/oklinux-init';
const FSTAB_BEGIN = '# BEGIN okLinux Desktop shares (managed: edits here are replaced at each start)';
const FSTAB_END = '# END okLinux Desktop shares';

/** Resolve `p` inside `root` as a chroot would, following symlinks (absolute ones are root-relative). */
export function resolveInRoot(root: string, p: string): string | null {
  let parts = p.split('/').filter(Boolean);
  let out: string[] = [];
  for (let hops = 0; parts.length;) {
    const part = parts.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      out.pop();
      continue;
    }
    const here = path.join(root, ...out, part);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(here);
    } catch {
      return null;
    }
    if (st.isSymbolicLink()) {
      if (++hops > 40) return null;
      const target = fs.readlinkSync(here);
      parts = [...target.split('/').filter(Boolean), ...parts];
      if (target.startsWith('/')) out = [];
      continue;
    }
    out.push(part);
  }
  return path.join(root, ...out);
}

/**
 * Write `file` (inside a guest root) whole, without ever following a link the
 * guest may have planted: the temp file is created exclusively (O_EXCL does not
 * follow symlinks), changed through its descriptor, and renamed over `file`
 * (which replaces a symlink there rather than writing through it).
 */
async function writeAtomic(file: string, data: string | Buffer, mode: number): Promise<void> {
  const tmp = `${file}.oklinux-tmp`;
  await fs.promises.rm(tmp, { force: true, recursive: true });
  const fh = await fs.promises.open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode);
  } finally {
    await fh.close();
  }
  await fs.promises.rename(tmp, file);
}

/** O_PATH (Linux): a handle to look at a file through, without opening it (fs.constants lacks it). */
const O_PATH = 0o10000000;

/** The most of a guest's /etc/fstab the host reads; a real one is a few hundred bytes. */
const FSTAB_MAX_BYTES = 1 << 20;

/**
 * A regular file's text, or '' when it is missing or not a regular file. Never through a symlink, and
 * never opening anything else: a guest may leave a FIFO there (an open would block) or, as root, a device
 * node (an open runs its driver: a watchdog arms, a tape rewinds). So it is looked at through an O_PATH
 * handle and read only once fstat says it is a regular file. A file over FSTAB_MAX_BYTES is refused rather
 * than read into memory.
 */
async function readRegular(file: string): Promise<string> {
  // Linux: look first (O_PATH opens nothing: no device driver runs), then read the very file looked at
  const linux = process.platform === 'linux';
  if (!linux && fs.lstatSync(file, { throwIfNoEntry: false })?.isFile() !== true) return '';
  let probe: fs.promises.FileHandle;
  try {
    probe = await fs.promises.open(
      file,
      (linux ? O_PATH : fs.constants.O_RDONLY | fs.constants.O_NONBLOCK) | fs.constants.O_NOFOLLOW,
    );
  } catch {
    return '';
  }
  try {
    const st = await probe.stat();
    if (!st.isFile()) return '';
    if (st.size > FSTAB_MAX_BYTES) {
      throw new OkError(
        'INVALID_INPUT',
        `${file} is ${st.size} bytes, more than an fstab can be (${FSTAB_MAX_BYTES}); remove or shorten it.`,
      );
    }
    if (!linux) return await probe.readFile('utf8');
    return await fs.promises.readFile(`/proc/self/fd/${probe.fd}`, 'utf8');
  } finally {
    await probe.close();
  }
}

/**
 * The host path of directory `dir` (e.g. `/etc`) inside the guest root, created
 * when missing. A symlink that leads nowhere inside the root is refused: host
 * code must never follow a guest's link out of its root.
 */
async function dirInRoot(vm: string, root: string, dir: string): Promise<string> {
  const resolved = resolveInRoot(root, dir);
  if (resolved) {
    if (!fs.statSync(resolved).isDirectory()) {
      throw new OkError('INVALID_INPUT', `The root of "${vm}" (${root}) has ${dir}, but it is not a directory.`);
    }
    return resolved;
  }
  const plain = path.join(root, dir);
  if (fs.lstatSync(plain, { throwIfNoEntry: false })) {
    throw new OkError(
      'INVALID_INPUT',
      `The root of "${vm}" (${root}) has ${dir} as a link that leads outside the root or nowhere; fix or remove it.`,
    );
  }
  await fs.promises.mkdir(plain, { recursive: true });
  return plain;
}

/**
 * The root a VM boots from, checked again at every start before anything is written into it:
 * a root chosen with --root-dir must still be its own realpath and pass `checkRootDir` (not a
 * system or home directory, apart from the data directory); the app's own root (`managed`,
 * inside the data directory) must not have become a link.
 */
export async function checkedRoot(
  root: string,
  managed: string,
  opts: { dataDir: string; home?: string },
): Promise<string> {
  if (root !== managed) return recheckRootDir(root, opts);
  for (const p of [path.dirname(managed), managed]) {
    if (fs.lstatSync(p, { throwIfNoEntry: false })?.isSymbolicLink()) {
      throw new OkError(
        'DATA_DIR',
        `${p} is a link; okLinux keeps VM roots as plain folders in its data directory and does not follow it. Remove the link.`,
      );
    }
  }
  return root;
}

/** Replace the managed block of `/etc/fstab` with `lines`, keeping everything else. */
export function withShares(fstab: string, lines: string[]): string {
  const kept: string[] = [];
  let inside = false;
  for (const l of fstab.split('\n')) {
    if (l === FSTAB_BEGIN) inside = true;
    else if (l === FSTAB_END) inside = false;
    else if (!inside) kept.push(l);
  }
  while (kept.length && kept[kept.length - 1] === '') kept.pop();
  const block = lines.length ? [FSTAB_BEGIN, ...lines, FSTAB_END] : [];
  return [...kept, ...block].join('\n') + '\n';
}

/**
 * Make `root` bootable: extract `tarball` into it when it does not exist yet,
 * refuse a root without /bin/sh, install oklinux-init, and write the shares into
 * its /etc/fstab.
 */
export async function prepareRootDir(opts: {
  vm: string;
  root: string;
  tarball: string | null;
  initScript: string;
  fstabLines: string[];
}): Promise<void> {
  const { root, vm } = opts;
  if (!fs.existsSync(root)) {
    if (!opts.tarball) {
      throw new OkError(
        'NOT_FOUND',
        `The root directory ${root} of "${vm}" does not exist, and its image has no rootfs to fill it from.`,
      );
    }
    await fs.promises.mkdir(path.dirname(root), { recursive: true });
    await extractTree(opts.tarball, root);
  }
  if (!fs.statSync(root).isDirectory())
    throw new OkError('INVALID_INPUT', `The root ${root} of "${vm}" is not a directory.`);
  const sh = resolveInRoot(root, '/bin/sh');
  const st = sh ? fs.statSync(sh, { throwIfNoEntry: false }) : undefined;
  const ok = !!st && st.isFile() && (st.mode & 0o111) !== 0;
  if (!ok) {
    throw new OkError(
      'INVALID_INPUT',
      `The root filesystem of "${vm}" (${root}) has no /bin/sh, so it cannot boot to a shell. ` +
        'Use a rootfs that has one (Alpine minirootfs, a debootstrap tree, busybox), or another --root-dir.',
    );
  }
  const sbin = await dirInRoot(vm, root, '/sbin');
  await writeAtomic(path.join(sbin, 'oklinux-init'), await fs.promises.readFile(opts.initScript), 0o755);
  const fstab = path.join(await dirInRoot(vm, root, '/etc'), 'fstab');
  const current = await readRegular(fstab);
  const next = withShares(current, opts.fstabLines);
  const isRegular = fs.lstatSync(fstab, { throwIfNoEntry: false })?.isFile() === true;
  if (next !== current || !isRegular) await writeAtomic(fstab, next, 0o644);
}
