// `oklinux config`: settings from the terminal, where a program setting (bldyPath) gets the same file checks as in the app.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli';
import { tmpDir } from '../helpers/tmp';

const t = tmpDir('oklinux-config-');
const env = { OKLINUX_HOME: path.join(t.dir, 'home') };
afterAll(() => t.cleanup());

const config = (...args: string[]) => runCli(['config', ...args], { env });

describe('oklinux config', () => {
  it('sets bldyPath only to a program nobody else can change, storing its realpath', async () => {
    const good = path.join(t.dir, 'bldy');
    fs.writeFileSync(good, '#!/bin/sh\necho bldy 1.0\n', { mode: 0o755 });
    const open = path.join(t.dir, 'open-bldy');
    fs.writeFileSync(open, '#!/bin/sh\necho bldy 1.0\n');
    fs.chmodSync(open, 0o777);

    const refused = await config('set', 'bldyPath', open);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`oklinux: bldyPath: ${open} is writable by group and others`);
    expect((await config('get', 'bldyPath')).stdout).toBe('none\n');

    const link = path.join(t.dir, 'link');
    fs.symlinkSync(good, link);
    const set = await config('set', 'bldyPath', link);
    expect([set.code, set.stdout]).toEqual([0, `bldyPath = ${good}\n`]);
    expect(JSON.parse((await config('get', '--json')).stdout)).toMatchObject({ bldyPath: good });
    expect((await config('set', 'bldyPath', 'none')).stdout).toBe('bldyPath = none\n');
  });

  it('changes other settings through the contract, and names what is wrong', async () => {
    expect((await config('set', 'accel', 'tcg')).stdout).toBe('accel = tcg\n');
    const bad = await config('set', 'accel', 'fast');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('accel');
    const unknown = await config('set', 'colour', 'red');
    expect([unknown.code, unknown.stderr]).toEqual([
      2,
      'oklinux: unknown setting "colour". Settings: backend, accel, bldyPath, githubApi, proxy.\n',
    ]);
  });
});
