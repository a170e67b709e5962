/** Process liveness and identity, from /proc (Linux) or signal 0 elsewhere. */
import fs from 'node:fs';
import { waitUntil } from '@core/wait';

export function isAlive(pid: number | null | undefined): boolean {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // a zombie is dead for our purposes
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return process.platform !== 'linux';
  }
}

/** The argv of a live process, or null. */
export function readCmdline(pid: number): string[] | null {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/cmdline`);
    if (raw.length === 0) return null;
    const parts = raw.toString('utf8').split('\0');
    if (parts[parts.length - 1] === '') parts.pop();
    return parts;
  } catch {
    return null;
  }
}

/** True when `pid` is alive and runs exactly `argv` (guards against pid reuse). */
export function runsArgv(pid: number | null | undefined, argv: string[] | null | undefined): boolean {
  if (!pid || !argv || !isAlive(pid)) return false;
  if (process.platform !== 'linux') return true;
  const actual = readCmdline(pid);
  return actual !== null && actual.length === argv.length && actual.every((a, i) => a === argv[i]);
}

/** Wait until `pid` is gone, up to `ms`; true if it is gone. */
export function waitGone(pid: number, ms: number): Promise<boolean> {
  return waitUntil(() => !isAlive(pid), { every: 50, within: ms });
}

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}
