/**
 * Data directories that cannot work end quickly with exit 8, naming the directory and saying to
 * pick another OKLINUX_HOME: never a spin (Node's recursive mkdir loops forever under
 * /proc/self), never a raw errno.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { OKLINUX_BIN, runCli } from '../helpers/cli';
import { tmpDir } from '../helpers/tmp';

const t = tmpDir('oklinux-odd-home-');
afterAll(() => t.cleanup());

/** Well under what a spinning process would take: it must finish on its own. */
const TIMEOUT_MS = 30_000;

async function expectRefused(home: string, problem: RegExp) {
  const started = Date.now();
  const r = await runCli(['ls'], { env: { OKLINUX_HOME: home }, timeoutMs: TIMEOUT_MS });
  expect(r.signal, `killed after ${TIMEOUT_MS} ms: it spun`).toBeNull();
  expect(Date.now() - started).toBeLessThan(TIMEOUT_MS);
  expect(r.code, r.stderr).toBe(8);
  expect(r.stderr).toContain(`The data directory ${home} cannot be used`);
  expect(r.stderr).toMatch(problem);
  expect(r.stderr).toContain('Choose another folder with OKLINUX_HOME');
}

describe('odd OKLINUX_HOME values', () => {
  it('/proc/self/x: exits 8 at once instead of spinning', async () => {
    await expectRefused('/proc/self/x', /\/proc\/self does not accept a new folder x \(ENOENT\)/);
  });

  it('a path under a regular file: ENOTDIR, named', async () => {
    const file = path.join(t.dir, 'a-file');
    fs.writeFileSync(file, 'x');
    await expectRefused(path.join(file, 'home'), new RegExp(`${file} is a file, not a folder`));
    await expectRefused(file, /it is a file, not a folder/);
  });

  it('folders another user cannot use, as nobody', () => {
    // root's private folder, a root-owned open folder, and a path through a folder nobody cannot enter
    const closed = path.join(t.dir, 'closed');
    const open = path.join(t.dir, 'open');
    fs.mkdirSync(closed, { mode: 0o700 });
    fs.mkdirSync(open);
    fs.chmodSync(open, 0o755);
    fs.chmodSync(t.dir, 0o755);
    const cases: [string, RegExp][] = [
      // someone else's folder is refused for whose it is, before its modes are looked at
      [
        closed,
        /belongs to uid 0, not to this user \(uid 65534\); okLinux will not use a data directory another user controls/,
      ],
      [open, /belongs to uid 0, not to this user \(uid 65534\)/],
      [path.join(closed, 'home'), /it cannot be read \(EACCES\)/],
    ];
    expect(process.getuid?.(), 'this test acts as nobody through setpriv, which needs root').toBe(0);
    for (const [home, problem] of cases) {
      const started = Date.now();
      const r = spawnSync(
        'setpriv',
        ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, OKLINUX_BIN, 'ls'],
        { env: { ...process.env, OKLINUX_HOME: home, HOME: '/nonexistent' }, encoding: 'utf8', timeout: TIMEOUT_MS },
      );
      expect(r.error).toBeUndefined();
      expect(Date.now() - started).toBeLessThan(TIMEOUT_MS);
      expect(r.status, r.stderr).toBe(8);
      expect(r.stderr).toContain(`The data directory ${home} cannot be used`);
      expect(r.stderr).toMatch(problem);
      expect(r.stderr).toContain('OKLINUX_HOME');
    }
    expect(fs.statSync(open).mode & 0o777).toBe(0o755);
  });
});
