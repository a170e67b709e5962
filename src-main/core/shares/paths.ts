/**
 * Checks on the two ends of a share: the host directory and the guest mount point.
 */
import type { Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { OkError } from '@contract/errors';

/**
 * Checks that `hostPath` can be shared: absolute, an existing directory, readable and
 * searchable (and writable when `writable`). Throws INVALID_INPUT or NOT_FOUND naming the
 * path and the fix.
 */
export async function validateHostDir(hostPath: string, opts: { writable?: boolean } = {}): Promise<void> {
  if (!path.isAbsolute(hostPath)) {
    throw new OkError(
      'INVALID_INPUT',
      `shared folder "${hostPath}" is not an absolute path; give the full path, starting with "/"`,
    );
  }
  let st: Stats;
  try {
    st = await fs.stat(hostPath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new OkError('NOT_FOUND', `shared folder ${hostPath} does not exist; create it or pick another folder`);
    }
    throw new OkError(
      'INVALID_INPUT',
      `shared folder ${hostPath} cannot be inspected (${code ?? String(e)}); check its permissions`,
      { cause: e },
    );
  }
  if (!st.isDirectory()) {
    throw new OkError(
      'INVALID_INPUT',
      `shared folder ${hostPath} is not a directory; share the folder that contains it instead`,
    );
  }
  const mode = fs.constants.R_OK | fs.constants.X_OK | (opts.writable ? fs.constants.W_OK : 0);
  try {
    await fs.access(hostPath, mode);
  } catch (e) {
    const need = opts.writable ? 'read, write and search (rwx)' : 'read and search (r-x)';
    throw new OkError(
      'INVALID_INPUT',
      `shared folder ${hostPath} is not accessible: your user needs ${need} permission on it ` +
        `(${(e as NodeJS.ErrnoException).code ?? 'denied'}); fix it with chmod/chown${opts.writable ? ' or share it read-only' : ''}`,
      { cause: e },
    );
  }
}

/** Guest directories a share must not hide. */
const SYSTEM_DIRS = new Set([
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/lib',
  '/lib64',
  '/proc',
  '/run',
  '/sbin',
  '/sys',
  '/usr',
  '/var',
]);

/** Kernel filesystems: a mount point cannot be made inside them. */
const KERNEL_TREES = ['/dev', '/proc', '/sys'];
/** Longest guest path taken: a file name's limit, well within the kernel command line's 2047 bytes. */
export const MAX_GUEST_PATH_BYTES = 255;

/**
 * Validates a guest mount point: absolute, normalized, not "/", no "..", no ":" or whitespace
 * (it travels in a kernel parameter and an fstab line), no quotes or backslashes, at most
 * 255 bytes, not a system directory and not inside /dev, /proc or /sys.
 */
export function validateGuestPath(p: string): void {
  const bad = (why: string): never => {
    throw new OkError('INVALID_INPUT', `guest path "${p}" ${why}`);
  };
  if (!p.startsWith('/')) bad('is not absolute; use a path such as /mnt/data');
  if (p === '/') bad('is the guest root; mount the share below it, e.g. /mnt/data');
  if (/[\s:"'\\]/.test(p) || /\p{Cc}/u.test(p))
    bad('contains whitespace, ":", a quote or a backslash; use letters, digits, "/", "-", "_" and "."');
  if (p.split('/').includes('..')) bad('contains ".."; give the mount point directly');
  if (path.posix.normalize(p) !== p || p.endsWith('/'))
    bad(`is not normalized; write it as "${path.posix.normalize(p).replace(/(.)\/$/, '$1')}"`);
  if (Buffer.byteLength(p) > MAX_GUEST_PATH_BYTES)
    bad(`is ${Buffer.byteLength(p)} bytes long; use at most ${MAX_GUEST_PATH_BYTES}, e.g. /mnt/data`);
  if (SYSTEM_DIRS.has(p)) bad('is a system directory the guest needs; mount the share elsewhere, e.g. /mnt/data');
  const kernelTree = KERNEL_TREES.find((d) => p.startsWith(`${d}/`));
  if (kernelTree)
    bad(`is inside ${kernelTree}, where no mount point can be made; mount the share elsewhere, e.g. /mnt/data`);
}

/** Where a share is mounted when the user does not say. */
export function defaultGuestPath(tag: string): string {
  return `/mnt/${tag}`;
}
