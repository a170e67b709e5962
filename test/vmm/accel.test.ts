import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveAccel } from '@core/vmm/accel';
import { runUnprivileged } from '../shares/unprivileged';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oklinux-accel-'));
  fs.chmodSync(tmp, 0o755);
  fs.writeFileSync(path.join(tmp, 'rw-device'), '');
  fs.writeFileSync(path.join(tmp, 'locked-device'), '', { mode: 0o000 });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function canOpenReadWrite(p: string): boolean {
  try {
    fs.closeSync(fs.openSync(p, 'r+'));
    return true;
  } catch {
    return false;
  }
}

describe('resolveAccel', () => {
  it("auto follows whether this host's /dev/kvm opens read-write", async () => {
    const choice = await resolveAccel('auto');
    expect(choice.accel).toBe(canOpenReadWrite('/dev/kvm') ? 'kvm' : 'tcg');
    expect(choice.reason).toMatch(/^auto: /);
  });

  it('auto picks kvm when the device opens read-write', async () => {
    const dev = path.join(tmp, 'rw-device');
    expect(await resolveAccel('auto', dev)).toEqual({ accel: 'kvm', reason: `auto: ${dev} is usable` });
  });

  it('auto falls back to tcg when the device is missing, saying why', async () => {
    const dev = path.join(tmp, 'no-kvm');
    const choice = await resolveAccel('auto', dev);
    expect(choice.accel).toBe('tcg');
    expect(choice.reason).toContain(`${dev} does not exist`);
  });

  it('auto falls back to tcg when the user may not open the device (as an unprivileged user)', () => {
    const dev = path.join(tmp, 'locked-device');
    const answer = runUnprivileged(`
      import { resolveAccel } from '@core/vmm/accel';
      console.log(JSON.stringify(await resolveAccel('auto', ${JSON.stringify(dev)})));
    `) as { accel: string; reason: string };
    expect(answer.accel).toBe('tcg');
    expect(answer.reason).toContain(
      `${dev} is not readable and writable by this user (add the user to the "kvm" group)`,
    );
  });

  it('an explicit kvm that cannot work is an UNSUPPORTED error; tcg always works', async () => {
    await expect(resolveAccel('kvm', path.join(tmp, 'no-kvm'))).rejects.toMatchObject({
      code: 'UNSUPPORTED',
      message: expect.stringContaining('choose accel "tcg" or "auto"'),
    });
    expect(await resolveAccel('kvm', path.join(tmp, 'rw-device'))).toEqual({
      accel: 'kvm',
      reason: 'kvm chosen in settings',
    });
    expect(await resolveAccel('tcg', path.join(tmp, 'no-kvm'))).toEqual({
      accel: 'tcg',
      reason: 'tcg chosen in settings',
    });
  });
});
