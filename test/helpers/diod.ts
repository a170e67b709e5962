/**
 * diod (Debian package `diod`), a real 9P2000.L server, run unprivileged-style on 127.0.0.1 for the
 * remote-share tests: `diod -f -n -c /dev/null -L stderr -l 127.0.0.1:PORT -e DIR` (its default listen
 * address is 0.0.0.0:564, so -l is always given). Ready once its port accepts a connection.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

export const DIOD = '/usr/sbin/diod';

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

export interface Diod {
  port: number;
  stop(): Promise<void>;
  log(): string;
}

/**
 * Serves `dir` (or several folders, each its own export) on 127.0.0.1:`port` (a free one unless given);
 * fails naming the package when diod is missing.
 */
export async function startDiod(dir: string | string[], port?: number): Promise<Diod> {
  if (!fs.existsSync(DIOD)) throw new Error(`these tests need diod (${DIOD}): apt-get install diod`);
  const p = port ?? (await freePort());
  let log = '';
  const child: ChildProcess = spawn(
    DIOD,
    ['-f', '-n', '-c', '/dev/null', '-L', 'stderr', '-l', `127.0.0.1:${p}`, ...[dir].flat().flatMap((d) => ['-e', d])],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 15_000;
  while (!(await accepts(p))) {
    if (child.exitCode !== null) throw new Error(`diod exited (${child.exitCode}): ${log}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`diod did not listen on 127.0.0.1:${p} in 15 s: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port: p,
    log: () => log,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      }
    },
  };
}
