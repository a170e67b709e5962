/**
 * The data directory on disk: created and kept private, and its failures explained.
 *
 * Invariants:
 * - The data directory and its folders vms/, run/, store/, downloads/ and bin/ are 0700; the
 *   database (with its -wal and -shm) and the logs (console.log, console.log.1, supervisor.log)
 *   are 0600. Modes are set explicitly (mkdir/open with the mode, then chmod/fchmod), never left
 *   to the umask. A guest's files in its 9p root (vms/<name>/root/) are therefore out of other
 *   users' reach, whatever modes the guest gives them.
 * - An existing data directory that is looser is tightened when it is opened, with one notice
 *   naming what changed; the next open finds nothing to do and says nothing.
 * - A looser folder that does not look like okLinux's (not empty, no oklinux.db) is refused, never
 *   chmod-ed: OKLINUX_HOME=/tmp must not make /tmp private.
 * - Creating the directory is bounded: one mkdir per missing component (Node's recursive mkdir
 *   loops forever under /proc/self), and every failure names the directory and what to do.
 * - A full disk is reported as DISK_FULL naming the directory, whatever layer hit it (SQLite's
 *   SQLITE_FULL / SQLITE_IOERR_*, or ENOSPC/EDQUOT from a write).
 */
import fs from 'node:fs';
import path from 'node:path';
import { OkError } from '@contract/errors';
import type { DataPaths } from '@core/paths';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;
/** Below this many free bytes, an ambiguous I/O error from SQLite is taken to mean "disk full". */
const NEARLY_FULL_BYTES = 1024 * 1024;
/** Windows has no mode bits to tighten (its ACLs already keep a user's AppData private). */
const WINDOWS = process.platform === 'win32';

export const octal = (mode: number): string => (mode & 0o7777).toString(8).padStart(4, '0');

const errCode = (e: unknown): string => (e as { code?: unknown } | null | undefined)?.code?.toString() ?? '';

function dataDirError(root: string, problem: string, cause?: unknown): OkError {
  return new OkError(
    'DATA_DIR',
    `The data directory ${root} cannot be used: ${problem}. Choose another folder with OKLINUX_HOME (or --home).`,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * `mkdir -p dir`, bounded: finds the deepest existing ancestor, then creates each missing
 * component once; `dir` itself gets `mode` (chmod-ed, so the umask cannot widen or narrow it),
 * its parents the default. Throws DATA_DIR naming `what`.
 */
export function makeDirs(dir: string, mode = 0o777, what = dir): void {
  const missing: string[] = [];
  let cur = path.resolve(dir);
  for (;;) {
    let st: fs.Stats;
    try {
      st = fs.statSync(cur);
    } catch (e) {
      const code = errCode(e);
      if (code !== 'ENOENT' && code !== 'ENOTDIR')
        throw dataDirError(what, `${cur} cannot be read (${code || String(e)})`, e);
      missing.unshift(cur);
      const parent = path.dirname(cur);
      if (parent === cur) throw dataDirError(what, `no part of the path ${dir} exists`, e);
      cur = parent;
      continue;
    }
    if (!st.isDirectory()) throw dataDirError(what, `${cur} is a file, not a folder`);
    break;
  }
  for (const d of missing) {
    try {
      const last = d === missing[missing.length - 1];
      fs.mkdirSync(d, { mode: last ? mode : 0o777 });
      if (last && mode !== 0o777) fs.chmodSync(d, mode);
    } catch (e) {
      const code = errCode(e);
      if (code === 'EEXIST' && isDir(d)) continue; // made by another process meanwhile
      const why =
        code === 'EACCES' || code === 'EPERM'
          ? `this user may not create ${d} (${code})`
          : code === 'ENOSPC'
            ? `the disk is full (${code})`
            : `${path.dirname(d)} does not accept a new folder ${path.basename(d)} (${code || String(e)})`;
      throw dataDirError(what, why, e);
    }
  }
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Open (creating if needed) a file that only its owner may read: mode 0600 whatever the umask. */
export function openPrivateFile(file: string, flags: 'a' | 'wx' = 'a'): number {
  const fd = fs.openSync(file, flags, PRIVATE_FILE_MODE);
  try {
    if ((fs.fstatSync(fd).mode & 0o777) !== PRIVATE_FILE_MODE) fs.fchmodSync(fd, PRIVATE_FILE_MODE);
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
  return fd;
}

/** Create `file` empty with mode 0600 unless it exists (an existing file is left as it is). */
export function createPrivateFile(file: string): void {
  try {
    fs.closeSync(openPrivateFile(file, 'wx'));
  } catch (e) {
    if (errCode(e) !== 'EEXIST') throw e;
  }
}

/** A folder (or file) that was looser than it should be, and its old mode. */
interface Tightened {
  path: string;
  was: number;
}

/** chmod `p` to `mode` when group or others have any access; records what changed. */
function tighten(root: string, p: string, mode: number, out: Tightened[]): void {
  if (WINDOWS) return;
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (e) {
    if (errCode(e) === 'ENOENT') return;
    throw dataDirError(root, `${p} cannot be read (${errCode(e) || String(e)})`, e);
  }
  requireOwn(root, p, st);
  if ((st.mode & 0o077) === 0) return;
  try {
    fs.chmodSync(p, mode);
  } catch (e) {
    throw dataDirError(
      root,
      `${p} (mode ${octal(st.mode)}) belongs to uid ${st.uid}, so it cannot be made private (${errCode(e) || String(e)})`,
      e,
    );
  }
  out.push({ path: p, was: st.mode & 0o7777 });
}

/**
 * Everything in the data directory must belong to this user: run as root, a chmod would succeed on a folder
 * another user made (or swapped in), and that user would keep control of what the app then trusts.
 */
function requireOwn(root: string, p: string, st: fs.Stats): void {
  const euid = process.geteuid?.();
  if (WINDOWS || euid === undefined || st.uid === euid) return;
  throw dataDirError(
    root,
    `${p} belongs to uid ${st.uid}, not to this user (uid ${euid}); okLinux will not use a data directory ` +
      'another user controls',
  );
}

function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * Make the data directory ready and private: create it and its folders 0700, create the
 * database file 0600, and tighten anything looser (folders, database, logs). Returns the
 * notices for people (at most one), empty when nothing had to change.
 */
export function prepareDataDir(paths: DataPaths): string[] {
  const root = paths.root;
  const changed: Tightened[] = [];
  let st: fs.Stats | null = null;
  try {
    st = fs.statSync(root);
  } catch (e) {
    const code = errCode(e);
    if (code !== 'ENOENT' && code !== 'ENOTDIR')
      throw dataDirError(root, `it cannot be read (${code || String(e)})`, e);
  }
  if (!st) {
    makeDirs(root, PRIVATE_DIR_MODE);
  } else {
    if (!st.isDirectory()) throw dataDirError(root, 'it is a file, not a folder');
    requireOwn(root, root, st);
    if (!WINDOWS && st.mode & 0o077) {
      const entries = listDir(root);
      if (entries.length && !entries.includes('oklinux.db')) {
        throw dataDirError(
          root,
          `it is a folder other users can open (mode ${octal(st.mode)}) that holds other files than okLinux's; ` +
            'okLinux keeps its data private and will not change the permissions of a shared folder',
        );
      }
      tighten(root, root, PRIVATE_DIR_MODE, changed);
    }
  }
  try {
    fs.accessSync(root, fs.constants.R_OK | fs.constants.W_OK | fs.constants.X_OK);
  } catch (e) {
    throw dataDirError(root, `this user may not write to it (${errCode(e) || String(e)})`, e);
  }
  for (const dir of [paths.vms, paths.run, paths.store, paths.downloads, paths.bin]) {
    if (fs.existsSync(dir)) tighten(root, dir, PRIVATE_DIR_MODE, changed);
    else makeDirs(dir, PRIVATE_DIR_MODE, root);
  }
  const files = [paths.db, `${paths.db}-wal`, `${paths.db}-shm`];
  for (const vm of listDir(paths.vms)) files.push(paths.consoleLog(vm), `${paths.consoleLog(vm)}.1`);
  for (const id of listDir(paths.run)) files.push(path.join(paths.run, id, 'supervisor.log'));
  for (const f of files) tighten(root, f, PRIVATE_FILE_MODE, changed);
  try {
    createPrivateFile(paths.db);
  } catch (e) {
    throw diskFullError(e, root) ?? dataDirError(root, `${paths.db} cannot be created (${errCode(e)})`, e);
  }
  return changed.length ? [tightenedNotice(root, changed)] : [];
}

function tightenedNotice(root: string, changed: Tightened[]): string {
  const self = changed.find((c) => c.path === root);
  const describe = (list: Tightened[], what: string): string | null => {
    if (!list.length) return null;
    const shown = list.slice(0, 4).map((c) => `${path.relative(root, c.path)} (was ${octal(c.was)})`);
    const noun = list.length === 1 ? what : `${what}s`;
    return `${list.length} ${noun}: ${shown.join(', ')}${list.length > shown.length ? ', …' : ''}`;
  };
  const rest = changed.filter((c) => c !== self);
  const parts = [
    describe(
      rest.filter((c) => isDir(c.path)),
      'folder',
    ),
    describe(
      rest.filter((c) => !isDir(c.path)),
      'file',
    ),
  ].filter((x): x is string => x !== null);
  if (self) {
    return (
      `okLinux tightened the permissions of ${root} (was ${octal(self.was)}) so other users cannot read it` +
      (parts.length ? `; also made private: ${parts.join('; ')}.` : '.')
    );
  }
  return `okLinux tightened permissions in ${root} so other users cannot read them: ${parts.join('; ')}.`;
}

function freeBytes(dir: string): number | null {
  try {
    const s = fs.statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
}

/** The message for a full disk under `dir`, with what to do. */
export function diskFullMessage(dir: string, detail?: string): string {
  return (
    `The disk holding ${dir} is full${detail ? ` (${detail})` : ''}. Free some space on it, or move the ` +
    'okLinux data directory to another disk with OKLINUX_HOME (or --home).'
  );
}

/**
 * If `e` means the disk holding `dir` is full, a DISK_FULL error saying so; else null.
 * ENOSPC, EDQUOT and SQLITE_FULL are certain; SQLite's I/O errors (e.g. SQLITE_IOERR_SHMSIZE,
 * when the -shm file cannot grow) count when the disk has (nearly) no space left. An OkError
 * keeps its own message (a download's says what was deleted), unless it only wraps SQLite's.
 */
export function diskFullError(e: unknown, dir: string): OkError | null {
  if (e instanceof OkError) {
    if (e.code === 'DISK_FULL' && e.message.startsWith(`The disk holding ${dir} is full`)) return e;
    const inner = e.cause;
    if ((e.code === 'DISK_FULL' || e.code === 'DATA_DIR') && errCode(inner).startsWith('SQLITE_')) {
      return diskFullError(inner, dir);
    }
    return null;
  }
  const code = errCode(e);
  const certain = code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL';
  const maybe = code.startsWith('SQLITE_IOERR') || code === 'SQLITE_CANTOPEN';
  if (!certain && !maybe) return null;
  if (!certain) {
    const free = freeBytes(dir);
    if (free === null || free >= NEARLY_FULL_BYTES) return null;
  }
  return new OkError('DISK_FULL', diskFullMessage(dir, code), { cause: e });
}
