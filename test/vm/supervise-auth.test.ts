/**
 * The supervisor entry (`oklinux __supervise <plan>`) runs only a launch plan
 * the engine signed under the data directory's run/: each forged plan is refused
 * with a clear message and a non-zero exit, and its bin (which would create a
 * marker file) never runs. A properly signed plan still runs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '@core/store';
import { runCli } from '../helpers/cli';
import { markerPlan, planWorld, type PlanWorld } from '../helpers/plans';
import { writeSignedPlan } from '@core/vm/plan-auth';
import { tmpDir } from '../helpers/tmp';

const t = tmpDir('oklinux-supauth-');
let w: PlanWorld;
const supervise = (plan: string) => runCli(['__supervise', plan], { env: { OKLINUX_HOME: w.home } });

beforeAll(() => {
  w = planWorld(t.dir);
});
afterAll(() => t.cleanup());

describe('oklinux __supervise', () => {
  it('refuses every forged plan before running anything', async () => {
    expect(w.bad.length).toBe(6);
    for (const c of w.bad) {
      const r = await supervise(c.file);
      expect(r.code, `${c.name}: ${r.stderr}`).not.toBe(0);
      expect(r.stderr, c.name).toContain(`Refused the launch plan ${c.file}`);
      expect(r.stderr, c.name).toMatch(c.refusal);
      expect(r.stderr, c.name).toContain('Nothing was run.');
      expect(fs.existsSync(w.marker), `${c.name}: its bin ran`).toBe(false);
    }
  });

  it('refuses a plan when the data dir has no key, and never makes one', async () => {
    // the data dir is what the environment says, never derived from the plan's own path
    fs.mkdirSync(path.join(t.dir, 'other-home', 'run'), { recursive: true });
    const r = await runCli(['__supervise', w.good], { env: { OKLINUX_HOME: path.join(t.dir, 'other-home') } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Refused the launch plan .*: it is not inside the data directory's/);
    const keyless = path.join(t.dir, 'keyless');
    fs.mkdirSync(path.join(keyless, 'run', '1'), { recursive: true });
    const copy = path.join(keyless, 'run', '1', 'launch.json');
    fs.copyFileSync(w.good, copy);
    const k = await runCli(['__supervise', copy], { env: { OKLINUX_HOME: keyless } });
    expect(k.code).not.toBe(0);
    expect(k.stderr).toMatch(/the key .*supervise\.key cannot be used/);
    expect(fs.existsSync(path.join(keyless, 'supervise.key'))).toBe(false);
    expect(fs.existsSync(w.marker)).toBe(false);
  });

  it('checks the files a signed plan pins right before spawning, and runs nothing if one changed', async () => {
    const runDir = path.join(w.home, 'run', '7');
    fs.mkdirSync(runDir);
    const kernel = path.join(t.dir, 'kernel');
    fs.writeFileSync(kernel, 'a kernel, swapped after the engine checked it');
    const file = path.join(runDir, 'launch.json');
    const pin = { what: 'the kernel of "x"', path: kernel, sha256: 'a'.repeat(64), repair: 'Run "oklinux verify".' };
    writeSignedPlan(file, { ...markerPlan(w.home, w.marker, runDir), verify: [pin] }, w.home);
    const r = await supervise(file);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`The kernel of "x" (${kernel}) changed after it was installed`);
    expect(fs.existsSync(w.marker)).toBe(false);
  });

  it('runs a plan the engine signed (the key is private to this user)', async () => {
    const key = fs.statSync(path.join(w.home, 'supervise.key'));
    expect(key.mode & 0o777).toBe(0o600);
    expect(key.size).toBe(32);
    const r = await supervise(w.good);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.existsSync(w.marker)).toBe(true);
    const store = new Store(path.join(w.home, 'oklinux.db'));
    try {
      expect(store.vms.get('sv').state).toBe('stopped');
    } finally {
      store.close();
    }
    fs.rmSync(w.marker);
  });
});
