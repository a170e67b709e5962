/**
 * A real 9P2000.L server for tests: Debian's `diod`, unprivileged, always bound to 127.0.0.1 with -l (its
 * default is 0.0.0.0:564), exporting one directory.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';

export function requireDiod(): string {
  const r = spawnSync('sh', ['-c', 'command -v diod || ls /usr/sbin/diod'], { encoding: 'utf8' });
  const p = r.stdout.trim().split('\n')[0];
  if (r.status !== 0 || !p) throw new Error('these tests need diod, a real 9P2000.L server: apt-get install diod');
  return p;
}

export function requireOpenssl(): void {
  if (spawnSync('openssl', ['version']).status !== 0)
    throw new Error('these tests need openssl (Debian package openssl) to make a test CA');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Diod {
  port: number;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** Starts diod exporting `dir` on 127.0.0.1 and waits until it accepts TCP connections. */
export async function startDiod(dir: string): Promise<Diod> {
  const bin = requireDiod();
  const port = await freePort();
  const proc = spawn(bin, ['-f', '-n', '-c', '/dev/null', '-L', 'stderr', '-l', `127.0.0.1:${port}`, '-e', dir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`diod exited (${proc.exitCode}): ${log}`);
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => {
        c.destroy();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`diod did not listen on 127.0.0.1:${port} within 15 s: ${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    proc,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}
