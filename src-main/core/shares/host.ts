/**
 * Which host directories a guest may be given: share folders and `--root-dir` roots.
 *
 * Invariants (checked when a share or a VM is created, and again at every start):
 * - every check runs on the `realpath` of both sides, so a symlink to a forbidden directory,
 *   or a path through one, is judged by where it leads;
 * - no share and no root is, lies inside, or contains the okLinux data directory: a guest that
 *   can write there can plant what the host runs next (`bin/bldy`) or rewrite the database;
 * - a `--root-dir` is never `/`, a system directory, a home directory, or a folder holding one
 *   (the app writes `/sbin/oklinux-init` and `/etc/fstab` into the root at every start);
 * - the realpath is what is stored, and at start the stored path must still be its own realpath:
 *   a link put in its way since is refused, not followed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OkError } from '@contract/errors';
import { qemuBinaryName, which } from '@core/host-tools';
import { validateHostDir } from './paths';

/** `realpath`, with errors turned into an OkError naming `what`. */
export async function realDir(p: string, what: string): Promise<string> {
  try {
    return await fs.promises.realpath(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new OkError(
      code === 'ENOENT' || code === 'ENOTDIR' ? 'NOT_FOUND' : 'INVALID_INPUT',
      `${what} ${p} cannot be resolved (${code ?? String(e)}); check that it exists and that you can reach it`,
      { cause: e },
    );
  }
}

/**
 * The realpath of a directory the user named; where there is none, `validateHostDir`'s own
 * message (not absolute, missing, not a directory) is thrown. Access is checked later, after the
 * rules, so a forbidden folder is refused for what it is, not for its modes.
 */
async function resolveGiven(p: string, what: string): Promise<string> {
  let real: string;
  try {
    real = await fs.promises.realpath(p);
  } catch {
    await validateHostDir(p); // throws its own message for a missing or unreachable folder
    return realDir(p, what); // or this one
  }
  if (!path.isAbsolute(p) || !(await fs.promises.stat(real)).isDirectory()) await validateHostDir(p);
  return real;
}

/** How `a` relates to `b`, both absolute and canonical: the same, inside it, containing it, or apart. */
export function relation(a: string, b: string): 'same' | 'inside' | 'contains' | null {
  if (a === b) return 'same';
  const under = (x: string, y: string) => x.startsWith(y.endsWith('/') ? y : `${y}/`);
  if (under(a, b)) return 'inside';
  if (under(b, a)) return 'contains';
  return null;
}

/** Device and inode of a path, or null when it cannot be stat-ed. */
async function devIno(p: string): Promise<string | null> {
  const st = await fs.promises.stat(p).catch(() => null);
  return st ? `${st.dev}:${st.ino}` : null;
}

/** Mount points strictly below `dir` (Linux: /proc/self/mountinfo; elsewhere none are known). */
async function mountsUnder(dir: string): Promise<string[]> {
  const text = await fs.promises.readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return text
    .split('\n')
    .map((l) => (l.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((m) => m.startsWith(prefix));
}

/**
 * Like `relation(real, dataDir)`, but also through bind mounts, compared by device and inode:
 * `real` or one of its ancestors is the data directory (a bind mount of it, or of a folder holding
 * it: 'same'/'inside'); `real`, or a filesystem mounted somewhere under it, is the data directory or
 * one of its ancestors ('contains').
 */
export async function relationToDataDir(
  real: string,
  dataReal: string,
): Promise<'same' | 'inside' | 'contains' | null> {
  const byPath = relation(real, dataReal);
  if (byPath) return byPath;
  const data = await devIno(dataReal);
  for (let p = real; ; p = path.dirname(p)) {
    if ((await devIno(p)) === data) return p === real ? 'same' : 'inside';
    if (p === path.dirname(p)) break;
  }
  const holders = new Set<string>();
  for (let p = dataReal; ; p = path.dirname(p)) {
    const id = await devIno(p);
    if (id) holders.add(id);
    if (p === path.dirname(p)) break;
  }
  for (const p of [real, ...(await mountsUnder(real))]) {
    const id = await devIno(p);
    if (id && holders.has(id)) return 'contains';
  }
  return null;
}

function dataDirMessage(what: string, given: string, real: string, dataReal: string, rel: string): string {
  const shown = given === real ? given : `${given} (which leads to ${real})`;
  const where = `${rel === 'same' ? 'is' : rel === 'inside' ? 'is inside' : 'contains'} the okLinux data directory ${dataReal}`;
  const fix =
    rel === 'contains'
      ? `share a subfolder that does not hold it instead, e.g. ${path.join(real, 'projects')}`
      : 'choose a folder outside it, e.g. a subfolder of your home directory';
  return (
    `${what} ${shown} ${where}. A guest that can write there could change okLinux's ` +
    `programs and database and so run code on this computer: ${fix}.`
  );
}

/** A folder whose contents the host runs: a guest-writable share must not be it nor hold it. */
export interface GuardedDir {
  dir: string;
  /** What it is, for the message: "a folder on PATH", "okLinux's own code". */
  what: string;
  /** Also refuse a share inside it (everything in it is code), not only the folder and its holders. */
  inside: boolean;
}

export interface ShareHostOptions {
  /** The share is read-write: the user must be able to write it. */
  writable: boolean;
  /**
   * The guest can write it: true when writable, and also for a read-only share on a backend that
   * cannot enforce read-only on the host (bldy: see vmm/bldy.ts). Defaults to `writable`.
   */
  guestWrites?: boolean;
  dataDir: string;
  /** Program files the host runs (VMMs, the app): a guest-writable share must not hold them. */
  programs?: (string | null)[];
  /** Folders of code the host runs (PATH, the app's own): see GuardedDir. */
  guarded?: GuardedDir[];
  /**
   * Folders a guest can write (other shares, VM roots): a share must not lie inside one, since that
   * guest could swap a folder on its path for a link (to ~/.ssh, /usr/local/bin) between the check and
   * the VMM opening it.
   */
  guestFolders?: { dir: string; what: string }[];
}

/**
 * Checks a folder to share and returns its realpath: `validateHostDir` (absolute, an existing,
 * accessible directory), then, on the realpath: never the data directory (nor in it, nor holding
 * it, through bind mounts too); and a share the guest can write never is, lies in or holds a system
 * directory (/usr, /etc…), a VMM the app runs (`programs`) or a folder of code (`guarded`).
 * `dataDir` must exist.
 */
export async function checkShareHost(hostPath: string, opts: ShareHostOptions): Promise<string> {
  const real = await resolveGiven(hostPath, 'shared folder');
  const dataReal = await realDir(opts.dataDir, 'the data directory');
  const rel = await relationToDataDir(real, dataReal);
  if (rel) throw new OkError('INVALID_INPUT', dataDirMessage('shared folder', hostPath, real, dataReal, rel));
  for (const g of opts.guestFolders ?? []) {
    if (relation(real, canonical(g.dir)) === 'inside') {
      throw new OkError(
        'INVALID_INPUT',
        `shared folder ${hostPath} lies inside ${g.what} (${g.dir}), which a guest can write: it could replace a ` +
          'folder on the way with a link to any of your files. Share a folder outside it, or share that folder itself.',
      );
    }
  }
  if (opts.guestWrites ?? opts.writable) {
    checkWritableShare(hostPath, real, opts.programs ?? [], opts.guarded ?? [], !opts.writable);
  }
  await validateHostDir(hostPath, { writable: opts.writable });
  return real;
}

/**
 * A guest-writable share never is, lies in or holds a system directory, nor holds a program okLinux
 * runs or a folder of code it runs. `roUnenforced`: the share is read-only, but the backend cannot
 * enforce that on the host, which the message says.
 */
function checkWritableShare(
  hostPath: string,
  real: string,
  programs: (string | null)[],
  guarded: GuardedDir[],
  roUnenforced: boolean,
): void {
  const shown = hostPath === real ? hostPath : `${hostPath} (which leads to ${real})`;
  const refuse = (why: string): never => {
    throw new OkError(
      'INVALID_INPUT',
      roUnenforced
        ? `shared folder ${shown} ${why}. bldy cannot keep a share read-only on the host (a guest could remount it ` +
            'read-write and replace programs this computer runs): use --backend qemu for this VM, or share a folder of your own.'
        : `shared folder ${shown} ${why}: a guest that can write there could replace programs this computer runs. ` +
            'Share it read-only (--ro), or share a folder of your own.',
    );
  };
  const says = (r: 'same' | 'inside' | 'contains') => (r === 'same' ? 'is' : r === 'inside' ? 'is inside' : 'contains');
  for (const dir of SYSTEM_TREES.map(canonical)) {
    const r = relation(real, dir);
    if (r) refuse(`${says(r)} the system directory ${dir}`);
  }
  for (const prog of programs) {
    if (prog && relation(canonical(prog), real) === 'inside') refuse(`holds ${prog}, which okLinux runs`);
  }
  for (const g of guarded) {
    // as resolved now, and as written: a PATH entry that is a link inside the share today could be
    // replaced by the guest with a real folder of programs tomorrow
    for (const dir of partlyResolved(g.dir)) {
      const r = relation(real, dir);
      if (r && (r !== 'inside' || g.inside)) refuse(`${says(r)} ${dir}, ${g.what}`);
    }
  }
}

/**
 * Programs okLinux runs on the host that a writable share must not hold: the configured bldy,
 * crosvm and QEMU as found on PATH, and the running app itself (node or the Electron binary).
 */
export function hostPrograms(bldyPath: string | null, envPath: string | undefined): string[] {
  const found = [bldyPath, which('crosvm', envPath), which(qemuBinaryName(), envPath), process.execPath];
  return found.filter((p): p is string => !!p);
}

/**
 * Folders of code the host runs: every PATH entry (a planted `qemu-system-x86_64` there would be run
 * by `doctor` and by every other VM's start) and the app's own folders (its sources, node_modules,
 * resources), which the CLI and every supervisor load.
 */
export function guardedDirs(envPath: string | undefined, appDirs: string[]): GuardedDir[] {
  const onPath = (envPath ?? '')
    .split(path.delimiter)
    .filter((d) => path.isAbsolute(d))
    .map((dir) => ({ dir, what: 'a folder on PATH whose programs this computer runs', inside: false }));
  const app = appDirs.map((dir) => ({ dir, what: "okLinux's own code", inside: true }));
  return [...app, ...onPath];
}

/** Directories a root must never be, nor lie inside: the system's own. */
const SYSTEM_TREES = [
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/proc',
  '/sbin',
  '/sys',
  '/usr',
];
/** Directories a root must never be, nor contain (roots inside them, e.g. /var/lib/machines/x, are fine). */
const SYSTEM_DIRS = [
  '/',
  '/home',
  '/media',
  '/mnt',
  '/opt',
  '/root',
  '/run',
  '/srv',
  '/tmp',
  '/var',
  '/var/lib',
  '/var/tmp',
];

/** Home directories listed in /etc/passwd (system users' too: /var/www, /var/lib/postgresql…). */
function passwdHomes(): string[] {
  let text: string;
  try {
    text = fs.readFileSync('/etc/passwd', 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((l) => l.split(':')[5] ?? '')
    .filter((h) => h.startsWith('/') && h !== '/' && h !== '/nonexistent');
}

/** `p` canonical when it exists (so /lib -> usr/lib compares as /usr/lib), else as given. */
export function canonical(p: string): string {
  const abs = path.resolve(p);
  try {
    return fs.realpathSync(abs);
  } catch {
    // like `realpath -m`: resolve the deepest part that exists, so /home/u/bin under a linked /home
    // (Silverblue's /home -> /var/home) compares as /var/home/u/bin before it is made
    const parent = path.dirname(abs);
    return parent === abs ? abs : path.join(canonical(parent), path.basename(abs));
  }
}

/**
 * Every way `p` may be reached: for each prefix of it, that prefix resolved now with the rest as written.
 * A guest that can write the folder where one of these lands could replace what follows (a link today, a
 * real folder of programs tomorrow), so each is compared with a share.
 */
function partlyResolved(p: string): Set<string> {
  const abs = path.resolve(p);
  const parts = abs.split('/').filter(Boolean);
  const out = new Set<string>([abs, canonical(abs)]);
  for (let i = 1; i < parts.length; i++) {
    out.add(path.join(canonical(`/${parts.slice(0, i).join('/')}`), ...parts.slice(i)));
  }
  return out;
}

/**
 * Checks a `--root-dir` and returns its realpath: an existing directory the user can write,
 * not a system directory (or inside /etc, /usr…), not the home directory or any user's home,
 * not a folder holding one of those, and apart from the data directory.
 */
export async function checkRootDir(rootDir: string, opts: { dataDir: string; home?: string }): Promise<string> {
  const real = await resolveGiven(rootDir, '--root-dir');
  const shown = rootDir === real ? rootDir : `${rootDir} (which leads to ${real})`;
  const refuse = (why: string): never => {
    throw new OkError(
      'INVALID_INPUT',
      `--root-dir ${shown} ${why}. At every start okLinux writes /sbin/oklinux-init and /etc/fstab into the root, ` +
        'and the guest can change anything in it: make an empty folder for the VM (e.g. ~/vms/debian) and use that.',
    );
  };
  if (real === '/') refuse('is the host\'s root directory "/"');
  const trees = SYSTEM_TREES.map(canonical);
  const dirs = SYSTEM_DIRS.map(canonical);
  const home = opts.home ? canonical(opts.home) : null;
  const homes = [...new Set([...(home ? [home] : []), ...passwdHomes().map(canonical)])];
  const whose = (h: string) => (h === home ? 'your home directory' : `the home directory ${h}`);
  for (const dir of trees) {
    const rel = relation(real, dir);
    if (rel === 'same') refuse(`is the system directory ${dir}`);
    if (rel === 'inside') refuse(`is inside the system directory ${dir}`);
  }
  for (const dir of dirs) if (real === dir) refuse(`is the system directory ${dir}`);
  for (const h of homes) if (real === h) refuse(`is ${whose(h)}`);
  const dataReal = await realDir(opts.dataDir, 'the data directory');
  const dataRel = await relationToDataDir(real, dataReal);
  if (dataRel === 'same') refuse(`is the okLinux data directory`);
  if (dataRel === 'inside')
    refuse(`is inside the okLinux data directory ${dataReal}, whose folders the app manages and deletes`);
  if (dataRel === 'contains') refuse(`contains the okLinux data directory ${dataReal}`);
  for (const dir of [...trees, ...dirs])
    if (relation(real, dir) === 'contains') refuse(`contains the system directory ${dir}`);
  for (const h of homes) if (relation(real, h) === 'contains') refuse(`contains ${whose(h)}`);
  await validateHostDir(rootDir, { writable: true });
  return real;
}

/**
 * At start: `stored` was a realpath when it was saved. Refuses it when it no longer is (a link
 * was put in its way since, perhaps by another user): okLinux does not follow it.
 */
export async function requireUnmoved(stored: string, what: string, fix: string): Promise<void> {
  const real = await realDir(stored, what);
  if (real !== stored) {
    throw new OkError(
      'INVALID_INPUT',
      `${what} ${stored} now leads to ${real}: a link was put in its path since it was chosen, and okLinux does not ` +
        `follow it. ${fix}`,
    );
  }
}

/** The user's home directory for these checks: $HOME of the engine's environment, else the OS's. */
export function homeDir(env: NodeJS.ProcessEnv): string {
  return env.HOME && path.isAbsolute(env.HOME) ? env.HOME : os.homedir();
}

/** At start: the stored share folder is still its own realpath and still passes `checkShareHost`. */
export async function recheckShareHost(stored: string, opts: ShareHostOptions): Promise<string> {
  await requireUnmoved(stored, 'shared folder', 'If that is intended, remove the share and add it again.');
  return checkShareHost(stored, opts);
}

/** At start: a chosen root is still its own realpath and still passes `checkRootDir`. */
export async function recheckRootDir(stored: string, opts: { dataDir: string; home?: string }): Promise<string> {
  await requireUnmoved(stored, '--root-dir', 'Create the VM again with the folder you mean.');
  return checkRootDir(stored, opts);
}
