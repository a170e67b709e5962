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

/**
 * Like `relation(real, dataDir)`, but also catches a bind mount of the data directory (or of a
 * folder holding it) by comparing device and inode of `real` and each of its ancestors.
 */
async function relationToDataDir(real: string, dataReal: string): Promise<'same' | 'inside' | 'contains' | null> {
  const byPath = relation(real, dataReal);
  if (byPath) return byPath;
  const data = await fs.promises.stat(dataReal);
  for (let p = real; ; p = path.dirname(p)) {
    const st = await fs.promises.stat(p).catch(() => null);
    if (st && st.dev === data.dev && st.ino === data.ino) return p === real ? 'same' : 'inside';
    if (p === path.dirname(p)) return null;
  }
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

/**
 * Checks a folder to share and returns its realpath: `validateHostDir` (absolute, an existing,
 * accessible directory), then, on the realpath: never the data directory (nor in it, nor holding
 * it); and a writable share never is, lies in or holds a system directory (/usr, /etc…) or a VMM
 * the app runs (`programs`, e.g. the configured bldy). `dataDir` must exist.
 */
export async function checkShareHost(
  hostPath: string,
  opts: { writable: boolean; dataDir: string; programs?: (string | null)[] },
): Promise<string> {
  const real = await resolveGiven(hostPath, 'shared folder');
  const dataReal = await realDir(opts.dataDir, 'the data directory');
  const rel = await relationToDataDir(real, dataReal);
  if (rel) throw new OkError('INVALID_INPUT', dataDirMessage('shared folder', hostPath, real, dataReal, rel));
  if (opts.writable) checkWritableShare(hostPath, real, opts.programs ?? []);
  await validateHostDir(hostPath, { writable: opts.writable });
  return real;
}

/** A writable share never is, lies in or holds a system directory, nor holds a program okLinux runs. */
function checkWritableShare(hostPath: string, real: string, programs: (string | null)[]): void {
  const shown = hostPath === real ? hostPath : `${hostPath} (which leads to ${real})`;
  const refuse = (why: string): never => {
    throw new OkError(
      'INVALID_INPUT',
      `shared folder ${shown} ${why}: a guest that can write there could replace programs this computer runs. ` +
        'Share it read-only (--ro), or share a folder of your own.',
    );
  };
  for (const dir of SYSTEM_TREES.map(canonical)) {
    const r = relation(real, dir);
    if (r) refuse(`${r === 'same' ? 'is' : r === 'inside' ? 'is inside' : 'contains'} the system directory ${dir}`);
  }
  for (const prog of programs) {
    if (prog && relation(canonical(prog), real) === 'inside') refuse(`holds ${prog}, which okLinux runs`);
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
function canonical(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
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
export async function recheckShareHost(
  stored: string,
  opts: { writable: boolean; dataDir: string; programs?: (string | null)[] },
): Promise<string> {
  await requireUnmoved(stored, 'shared folder', 'If that is intended, remove the share and add it again.');
  return checkShareHost(stored, opts);
}

/** At start: a chosen root is still its own realpath and still passes `checkRootDir`. */
export async function recheckRootDir(stored: string, opts: { dataDir: string; home?: string }): Promise<string> {
  await requireUnmoved(stored, '--root-dir', 'Create the VM again with the folder you mean.');
  return checkRootDir(stored, opts);
}
