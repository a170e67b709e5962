/**
 * A VM's socket directory, made safe to use (the paths themselves come from
 * `DataPaths.socketDir`).
 *
 * Invariants:
 * - Under the data directory (the usual case) it is a plain 0700 folder inside run/, itself 0700.
 * - Under the shared /tmp (a data directory too deep for socket paths) the per-user folder
 *   `/tmp/oklinux-<euid>` is used only if it is a real directory (not a symlink), owned by us,
 *   with no access for group or others. Another user can create that name first to intercept or
 *   fake a VM's console; then it is refused with a message, never used or chmod-ed.
 * - Every socket path in it fits in SOCKET_PATH_MAX bytes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { OkError } from '@contract/errors';
import { makeDirs, octal, PRIVATE_DIR_MODE } from '@core/datadir';
import { SOCKET_NAMES, SOCKET_PATH_MAX, type DataPaths } from '@core/paths';

const euid = (): number => process.geteuid?.() ?? 0;

/**
 * Create `dir` (its parent must exist) 0700, or accept it if it exists as our own private
 * directory. Throws DATA_DIR when it is a symlink, not a directory, someone else's, or open
 * to others.
 */
export function ensureOwnPrivateDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { mode: PRIVATE_DIR_MODE });
    fs.chmodSync(dir, PRIVATE_DIR_MODE); // not left to the umask
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new OkError(
        'DATA_DIR',
        `The socket folder ${dir} cannot be created (${(e as NodeJS.ErrnoException).code ?? String(e)}).`,
        { cause: e },
      );
    }
  }
  const st = fs.lstatSync(dir);
  const problem = st.isSymbolicLink()
    ? 'is a symbolic link'
    : !st.isDirectory()
      ? 'is not a folder'
      : st.uid !== euid()
        ? `belongs to uid ${st.uid}, not to this user (uid ${euid()})`
        : st.mode & 0o077
          ? `has mode ${octal(st.mode)}, so other users can reach it (it must be 0700)`
          : null;
  if (problem) {
    throw new OkError(
      'DATA_DIR',
      `The socket folder ${dir} ${problem}. Another user may have made it to intercept VM consoles, so ` +
        'okLinux will not use it. Remove it (as its owner or root), or use a data directory with a shorter path.',
    );
  }
}

/** Make the folder for VM `vmId`'s sockets ready; returns it. */
export function ensureSocketDir(paths: DataPaths, vmId: number): string {
  const dir = paths.socketDir(vmId);
  for (const n of SOCKET_NAMES) {
    const p = path.join(dir, n);
    if (Buffer.byteLength(p) > SOCKET_PATH_MAX) {
      throw new OkError(
        'DATA_DIR',
        `The socket path ${p} is longer than ${SOCKET_PATH_MAX} bytes; use a data directory with a shorter path.`,
      );
    }
  }
  if (dir === paths.runDir(vmId)) {
    makeDirs(dir, PRIVATE_DIR_MODE, paths.root);
    return dir;
  }
  ensureOwnPrivateDir(path.dirname(dir));
  ensureOwnPrivateDir(dir);
  return dir;
}
