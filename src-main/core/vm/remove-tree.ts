/**
 * Deleting a VM's folders (its root, console logs, run directory), which a guest has written.
 *
 * Invariants:
 * - nothing outside the tree is touched: symlinks are never followed, and other filesystems
 *   mounted inside it are never entered (GNU `rm --one-file-system`, which walks with openat and
 *   O_NOFOLLOW, so a link swapped in mid-walk cannot redirect it; BSD `rm -x` on macOS);
 * - modes a guest set do not stop the owner: a directory the user owns but cannot read, write or
 *   search is made u+rwx (never following a link), then removal is tried again;
 * - whatever could not be removed is reported path by path with the reason and the fix.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface RemoveFailure {
  path: string;
  reason: string;
}

const RM = fs.existsSync('/bin/rm') ? '/bin/rm' : 'rm';

function rmArgs(dir: string): string[] {
  return process.platform === 'darwin' ? ['-rf', '-x', '--', dir] : ['-rf', '--one-file-system', '--', dir];
}

/** Runs rm; resolves with its stderr lines (empty when it succeeded). */
function runRm(dir: string): Promise<string[]> {
  return new Promise((resolve) => {
    // node:child_process loads when a tree is removed, not for every command (`oklinux ls`)
    process
      .getBuiltinModule('node:child_process')
      .execFile(
        RM,
        rmArgs(dir),
        { env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' }, maxBuffer: 4 << 20 },
        (err, _stdout, stderr) => {
          const lines = stderr.split('\n').filter(Boolean);
          resolve(err && !lines.length ? [String(err.message)] : lines);
        },
      );
  });
}

/** Gives the owner rwx on every directory below `top` (same filesystem, no links) that lacks it. */
function unlockDirs(top: string): void {
  const uid = process.geteuid?.() ?? -1;
  const topDev = fs.lstatSync(top, { throwIfNoEntry: false })?.dev;
  const walk = (dir: string): void => {
    const st = fs.lstatSync(dir, { throwIfNoEntry: false });
    if (!st || !st.isDirectory() || st.dev !== topDev) return;
    if ((st.mode & 0o700) !== 0o700 && (st.uid === uid || uid === 0)) {
      try {
        fs.chmodSync(dir, (st.mode & 0o7777) | 0o700);
      } catch {
        return; // rm will name it
      }
    }
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) walk(path.join(dir, n));
  };
  walk(top);
}

/** Reads rm's complaints ("cannot remove 'P': reason", "skipping 'P', since it's on a different device"). */
function parseRm(lines: string[]): RemoveFailure[] {
  return lines.map((line) => {
    const l = line.replace(/^\S*rm: /, 'rm: ');
    const skipped = /^rm: skipping '(.*)', since it's on a different device$/.exec(l);
    if (skipped) return { path: skipped[1]!, reason: 'a filesystem is mounted there' };
    const cannot = /^rm: cannot remove '(.*)': (.*)$/.exec(l);
    if (cannot) return { path: cannot[1]!, reason: cannot[2]! };
    return { path: '', reason: l.replace(/^rm: /, '') };
  });
}

/** What to do about one failure, in words. */
export function fixFor(f: RemoveFailure): string {
  const p = f.path || 'it';
  if (/mounted|busy/i.test(f.reason)) return `unmount it ("umount ${p}")`;
  if (/not permitted/i.test(f.reason))
    return `it may be immutable or append-only: check with "lsattr -d ${p}", clear with "chattr -i -a ${p}" (as root)`;
  if (/permission denied/i.test(f.reason)) return `give your user write access to the folder holding it (chown/chmod)`;
  if (/read-only file system/i.test(f.reason)) return `remount that filesystem read-write`;
  return 'remove it by hand';
}

/**
 * Deletes `dir` and everything in it (a missing `dir` is fine). Resolves with what could not be
 * removed; an empty list means `dir` is gone.
 */
export async function removeTree(dir: string): Promise<RemoveFailure[]> {
  if (!fs.lstatSync(dir, { throwIfNoEntry: false })) return [];
  if (process.platform === 'win32') {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
      return [];
    } catch (e) {
      return [{ path: dir, reason: (e as NodeJS.ErrnoException).code ?? String(e) }];
    }
  }
  await runRm(dir);
  if (!fs.lstatSync(dir, { throwIfNoEntry: false })) return [];
  // a guest may have left folders its owner cannot open (mode 000): unlock them, try again
  unlockDirs(dir);
  const errors = await runRm(dir);
  if (!fs.lstatSync(dir, { throwIfNoEntry: false })) return [];
  const failures = parseRm(errors);
  return failures.length ? failures : [{ path: dir, reason: 'it is still there after "rm -rf"' }];
}

/** Removes a VM's run directory and its folder (or, with `keepRoot`, only its console logs). */
export async function removeVmFiles(opts: {
  runDir: string;
  vmDir: string;
  keepRoot: boolean;
}): Promise<RemoveFailure[]> {
  const failures: RemoveFailure[] = [];
  try {
    failures.push(...(await removeTree(opts.runDir)));
    const targets = opts.keepRoot
      ? ['console.log', 'console.log.1'].map((f) => path.join(opts.vmDir, f))
      : [opts.vmDir];
    for (const t of targets) failures.push(...(await removeTree(t)));
  } catch (e) {
    failures.push({ path: opts.vmDir, reason: e instanceof Error ? e.message : String(e) });
  }
  return failures;
}

/** The message for a VM that is kept because some of its files could not be removed. */
export function removalFailed(name: string, keepRoot: boolean, failures: RemoveFailure[]): string {
  const list = failures.map((f) => `  ${f.path || '?'}: ${f.reason}; ${fixFor(f)}`).join('\n');
  return (
    `Could not remove every file of the VM "${name}", so the VM is kept:\n${list}\n` +
    `Then run "oklinux rm ${name} ${keepRoot ? '--keep-root' : '--delete-root'}" again.`
  );
}
