/**
 * Starting a real QEMU for tests.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export const QEMU = 'qemu-system-x86_64';

/** Fails (never skips) when QEMU is missing, naming the Debian package. */
export function requireQemu(): void {
  const r = spawnSync(QEMU, ['--version'], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(
      `${QEMU} is not installed or does not run (${r.error?.message ?? r.stderr}); install the Debian package "qemu-system-x86"`,
    );
  }
}

export interface RunningQemu {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startQemu(args: string[]): RunningQemu {
  const child = spawn(QEMU, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  child.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stderr: () => err, exited };
}

/** Kills QEMU if it still runs and waits for it. */
export async function stopQemu(q: RunningQemu): Promise<void> {
  if (q.child.exitCode === null && q.child.signalCode === null) q.child.kill('SIGKILL');
  await q.exited;
}
