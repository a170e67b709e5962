/**
 * Choosing the CPU accelerator: KVM when the user can open /dev/kvm read-write,
 * else QEMU's TCG emulator.
 */
import fs from 'node:fs/promises';
import { OkError } from '@contract/errors';
import type { Accel } from './types';

export type AccelSetting = 'auto' | Accel;

export interface AccelChoice {
  accel: Accel;
  reason: string;
}

/** Why `device` cannot be opened read-write, or null if it can. */
export async function kvmProblem(device: string): Promise<string | null> {
  try {
    const fh = await fs.open(device, 'r+');
    await fh.close();
    return null;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `${device} does not exist (KVM is not enabled on this host)`;
    if (code === 'EACCES' || code === 'EPERM')
      return `${device} is not readable and writable by this user (add the user to the "kvm" group)`;
    return `${device} cannot be opened (${code ?? String(e)})`;
  }
}

/**
 * The host TSC's rate in kHz from /proc/cpuinfo's text, or null when it cannot be trusted to be the TSC's:
 * only with `constant_tsc` and without `aperfmperf` is "cpu MHz" the kernel's calibrated rate (with
 * aperfmperf it is the core's current clock). Under TCG a guest's TSC is the host's (see machine.ts).
 */
export function tscKhzFromCpuinfo(cpuinfo: string): number | null {
  const flags = /^flags\s*:(.*)$/m.exec(cpuinfo)?.[1]?.split(/\s+/) ?? [];
  if (!flags.includes('constant_tsc') || flags.includes('aperfmperf')) return null;
  const mhz = Number(/^cpu MHz\s*:\s*([0-9.]+)$/m.exec(cpuinfo)?.[1]);
  return Number.isFinite(mhz) && mhz > 0 ? Math.round(mhz * 1000) : null;
}

/** The host TSC's rate in kHz (Linux on x86), or null when unknown. */
export async function hostTscKhz(cpuinfo = '/proc/cpuinfo'): Promise<number | null> {
  try {
    return tscKhzFromCpuinfo(await fs.readFile(cpuinfo, 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Resolves the accel setting. 'auto' picks kvm if `device` opens read-write, else tcg;
 * 'kvm' throws UNSUPPORTED if it does not; 'tcg' is always possible.
 */
export async function resolveAccel(setting: AccelSetting, device = '/dev/kvm'): Promise<AccelChoice> {
  if (setting === 'tcg') return { accel: 'tcg', reason: 'tcg chosen in settings' };
  const problem = await kvmProblem(device);
  if (setting === 'kvm') {
    if (problem)
      throw new OkError(
        'UNSUPPORTED',
        `KVM was chosen in settings, but ${problem}; fix that or choose accel "tcg" or "auto"`,
      );
    return { accel: 'kvm', reason: 'kvm chosen in settings' };
  }
  if (problem) return { accel: 'tcg', reason: `auto: ${problem}, so software emulation (tcg)` };
  return { accel: 'kvm', reason: `auto: ${device} is usable` };
}
