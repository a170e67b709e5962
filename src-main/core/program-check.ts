/**
 * Whether a file may be trusted as a program okLinux will run (a setting such
 * as `bldyPath`). The answer is its realpath, which is what gets stored, so a
 * symlink cannot be re-pointed later. Checked, in order:
 *
 * - the path is absolute and its realpath resolves;
 * - it is a regular file with an execute bit;
 * - on POSIX: the file is owned by this user or root and is not writable by
 *   group or others, and every folder on its realpath is owned by this user or
 *   root and is either not writable by group or others or sticky (like /tmp,
 *   where others cannot rename or delete a file they do not own), so nobody else
 *   can change or replace the program afterwards;
 * - `<file> --version` exits 0 within 5 s.
 *
 * Every refusal is an OkError naming the problem and the fix. ACLs and
 * capabilities are not inspected; Windows gets the realpath, file and
 * `--version` checks only (it has no POSIX owners or modes).
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { OkError } from '@contract/errors';

export interface ProgramCheckOptions {
  /** The environment `--version` runs with (the one the program will run with). */
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Checks on the realpath that must pass before the file is run at all (it throws to refuse). */
  beforeRun?: (real: string) => Promise<void> | void;
}

const VERSION_TIMEOUT_MS = 5000;
const STICKY = 0o1000;

function writableBy(mode: number): string | null {
  const group = (mode & 0o020) !== 0;
  const others = (mode & 0o002) !== 0;
  return group && others ? 'group and others' : group ? 'its group' : others ? 'others' : null;
}

function ownerProblem(uid: number, label: string, what: string): string | null {
  const me = process.getuid?.();
  if (me === undefined || uid === me || uid === 0) return null;
  return `${label}: ${what} is owned by another user (uid ${uid}), who could change what okLinux runs.`;
}

/** Owners and modes of the file and of every folder above it (POSIX only). */
function checkOwnership(real: string, st: fs.Stats, label: string): void {
  if (process.getuid === undefined) return;
  const fileOwner = ownerProblem(st.uid, label, real);
  if (fileOwner) {
    throw new OkError(
      'INVALID_INPUT',
      `${fileOwner} Copy it to a file you own ("install -m 755 ${real} DEST") and choose the copy.`,
    );
  }
  const fileWriters = writableBy(st.mode);
  if (fileWriters) {
    throw new OkError(
      'INVALID_INPUT',
      `${label}: ${real} is writable by ${fileWriters}, who could change what okLinux runs. Run "chmod go-w ${real}" and set it again.`,
    );
  }
  for (let dir = path.dirname(real); ; dir = path.dirname(dir)) {
    const d = fs.statSync(dir);
    const dirOwner = ownerProblem(d.uid, label, `the folder ${dir} holding ${real}`);
    if (dirOwner) throw new OkError('INVALID_INPUT', `${dirOwner} Move the program into a folder you own.`);
    const dirWriters = writableBy(d.mode);
    if (dirWriters && (d.mode & STICKY) === 0) {
      throw new OkError(
        'INVALID_INPUT',
        `${label}: the folder ${dir} holding ${real} is writable by ${dirWriters}, who could replace the program. ` +
          `Run "chmod go-w ${dir}", or move the program into a folder only you can write.`,
      );
    }
    if (path.dirname(dir) === dir) break;
  }
}

/**
 * `<file> --version`: null when it exits 0 in time, else why not. It runs in its
 * own process group, killed whole on timeout, so a script's children cannot
 * keep it (or its output pipes) alive.
 */
function versionProblem(file: string, opts: ProgramCheckOptions): Promise<string | null> {
  const timeout = opts.timeoutMs ?? VERSION_TIMEOUT_MS;
  return new Promise((resolve) => {
    const child = spawn(file, ['--version'], {
      env: opts.env ?? process.env,
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: process.platform !== 'win32',
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    let exited = false;
    let timedOut = false;
    child.once('exit', () => (exited = true));
    // On timeout, or when the program exited but something it started still holds its stderr.
    const timer = setTimeout(() => {
      timedOut = !exited;
      try {
        process.kill(process.platform === 'win32' ? child.pid! : -child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeout);
    child.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(`could not be run (${e.code ?? e.message})`);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const said = stderr.trim().split('\n').slice(-3).join(' ').slice(0, 300);
      if (timedOut) resolve(`did not finish within ${timeout / 1000} s`);
      else if (code === 0) resolve(null);
      else
        resolve(
          `${code === null ? `was killed by ${signal}` : `exited with status ${code}`}${said ? `: ${said}` : ''}`,
        );
    });
  });
}

/**
 * Every check but `--version` (see the header): the realpath of `file`, or an
 * OkError. Synchronous and cheap, so it also runs each time a VMM is chosen: a
 * value stored before these checks existed, or a file changed since, is not run.
 */
export function checkProgramFile(file: string, label: string): string {
  if (!path.isAbsolute(file)) {
    throw new OkError('INVALID_INPUT', `${label} must be an absolute path, not "${file}".`);
  }
  let real: string;
  try {
    real = fs.realpathSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new OkError('NOT_FOUND', `${label}: ${file} does not exist. Name the program's file.`);
    throw new OkError('INVALID_INPUT', `${label}: ${file} cannot be resolved (${code ?? String(e)}).`);
  }
  const st = fs.statSync(real);
  if (!st.isFile()) {
    const kind = st.isDirectory() ? 'a folder' : 'not a regular file';
    throw new OkError('INVALID_INPUT', `${label}: ${real} is ${kind}; name the program's file itself.`);
  }
  let executable = process.platform === 'win32' || (st.mode & 0o111) !== 0;
  try {
    fs.accessSync(real, fs.constants.X_OK);
  } catch {
    executable = false;
  }
  if (!executable) {
    throw new OkError(
      'INVALID_INPUT',
      `${label}: ${real} is not executable. Run "chmod 755 ${real}" and set it again.`,
    );
  }
  checkOwnership(real, st, label);
  return real;
}

/**
 * Check `file` as a program okLinux may run (see the header), `--version`
 * included, and return its realpath. `label` names the setting in messages,
 * e.g. "bldyPath".
 */
export async function trustedProgram(file: string, label: string, opts: ProgramCheckOptions = {}): Promise<string> {
  const real = checkProgramFile(file, label);
  await opts.beforeRun?.(real);
  const problem = await versionProblem(real, opts);
  if (problem) {
    throw new OkError(
      'INVALID_INPUT',
      `${label}: "${real} --version" ${problem}, so it does not look like a working program. Choose the right file.`,
    );
  }
  return real;
}
