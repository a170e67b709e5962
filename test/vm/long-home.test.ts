/**
 * Data directories with long paths: at 90 characters `run/<id>/console.sock` passes the unix
 * socket limit while qmp.sock does not (the kernel silently bound a cut-short name, so the
 * second start failed with EADDRINUSE); at 120 every socket does. Under QEMU TCG, through the
 * real CLI: the VM starts, its console works, it stops, and it starts again with a working
 * console. The sockets live in the short per-user folder; launch.json stays under the data
 * directory's run/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '@core/engine';
import { DataPaths, SOCKET_PATH_MAX, shortSocketBase } from '@core/paths';
import { runCli } from '../helpers/cli';
import { tmpDir } from '../helpers/tmp';
import { ConsoleTap, processesMentioning, serveTestBundle, vmEnv, TEST_BUNDLE, type BundleServer } from '../helpers/vm';

const t = tmpDir('oklinux-longhome-');
let bundle: BundleServer;

beforeAll(async () => {
  bundle = await serveTestBundle();
});

/** Socket folders made outside the test's directory (in the short per-user folder), removed after. */
const socketDirs = new Set<string>();

afterAll(async () => {
  for (const p of processesMentioning(t.dir)) process.kill(p.pid, 'SIGKILL');
  for (const d of socketDirs) fs.rmSync(d, { recursive: true, force: true });
  await bundle?.close();
  t.cleanup();
});

async function consoleWorks(home: string, env: NodeJS.ProcessEnv, round: number): Promise<void> {
  const engine = new Engine({ home, env });
  const tap = new ConsoleTap(engine, 'long');
  try {
    await tap.attach();
    await tap.ready();
    await tap.run(`echo round-""${round}-$((6*7))`, new RegExp(`round-${round}-42`));
  } finally {
    tap.close();
    await engine.close();
  }
}

for (const length of [90, 120]) {
  describe(`a data directory of ${length} characters`, () => {
    const home = path.join(t.dir, `${length}-`.padEnd(length - t.dir.length - 1, 'h'));
    const env = vmEnv(home);
    const cli = (...args: string[]) => runCli(args, { env });

    beforeAll(async () => {
      expect(home.length).toBe(length);
      expect((await cli('catalog', 'add', bundle.manifestUrl)).code).toBe(0);
      expect((await cli('create', 'long', '--image', TEST_BUNDLE, '--accel', 'tcg', '--memory', '256')).code).toBe(0);
    });

    for (const round of [1, 2]) {
      it(`start ${round}: runs, the console works, and it stops`, async () => {
        const start = await cli('start', 'long');
        expect(start.code, start.stderr).toBe(0);
        const runDir = path.join(home, 'run', fs.readdirSync(path.join(home, 'run'))[0]!);
        expect(fs.existsSync(path.join(runDir, 'launch.json'))).toBe(true);
        // no socket (whole or cut short) under the data directory
        expect(fs.readdirSync(runDir).filter((f) => f.includes('.s'))).toEqual([]);
        const sock = new DataPaths(home).socket(Number(path.basename(runDir)), 'console.sock');
        socketDirs.add(path.dirname(sock));
        expect(path.dirname(path.dirname(sock))).toBe(shortSocketBase());
        expect(fs.statSync(sock).isSocket()).toBe(true);
        expect(Buffer.byteLength(sock)).toBeLessThanOrEqual(SOCKET_PATH_MAX);
        expect(fs.statSync(path.dirname(sock)).mode & 0o777).toBe(0o700);
        await consoleWorks(home, env, round);
        const stop = await cli('stop', 'long', '--json');
        expect(stop.code, stop.stderr).toBe(0);
        expect(JSON.parse(stop.stdout)).toMatchObject({ state: 'stopped' });
      });
    }
  });
}
