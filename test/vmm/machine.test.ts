// Which QEMU machine a VM gets (#11 item 6): microvm for a kernel with virtio-mmio when the guest can keep
// time there (KVM, or TCG with the host TSC's rate known), pc otherwise; a VM's own setting wins.
import { describe, expect, it } from 'vitest';
import { OkError } from '@contract/errors';
import { chooseMachine, virtioDevice } from '@core/vmm/machine';
import { tscKhzFromCpuinfo } from '@core/vmm/accel';

const cpuinfo = (flags: string, mhz = '2000.000') =>
  `processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\ncpu MHz\t\t: ${mhz}\nflags\t\t: fpu tsc ${flags}\n\nprocessor\t: 1\n`;

describe('chooseMachine', () => {
  const ok = { virtioMmio: true, accel: 'tcg' as const, tscKhz: 2000000 };
  it('auto: microvm for a virtio-mmio kernel under TCG with a known TSC rate, and under KVM', () => {
    expect(chooseMachine('v', 'auto', ok).machine).toBe('microvm');
    expect(chooseMachine('v', 'auto', { ...ok, accel: 'kvm', tscKhz: null }).machine).toBe('microvm');
  });
  it('auto: pc for a kernel not known to have virtio-mmio (Debian modular + initramfs), or TCG without a TSC rate', () => {
    expect(chooseMachine('v', 'auto', { ...ok, virtioMmio: false })).toMatchObject({
      machine: 'pc',
      reason: expect.stringMatching(/not known to have virtio-mmio/),
    });
    expect(chooseMachine('v', 'auto', { ...ok, tscKhz: null })).toMatchObject({
      machine: 'pc',
      reason: expect.stringMatching(/TSC rate/),
    });
  });
  it("the VM's setting wins; microvm under TCG with no TSC rate is refused, naming the fix", () => {
    expect(chooseMachine('v', 'pc', ok).machine).toBe('pc');
    expect(chooseMachine('v', 'microvm', { ...ok, virtioMmio: false }).machine).toBe('microvm');
    let err: unknown;
    try {
      chooseMachine('v', 'microvm', { ...ok, tscKhz: null });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OkError);
    expect((err as OkError).code).toBe('UNSUPPORTED');
    expect((err as OkError).message).toMatch(/"v" is set to QEMU's microvm machine.*--machine pc/);
  });
  it('virtio devices: -pci on pc, -device on microvm', () => {
    expect(virtioDevice('virtio-9p')).toBe('virtio-9p-pci');
    expect(virtioDevice('virtio-blk', 'microvm')).toBe('virtio-blk-device');
  });
});

describe('tscKhzFromCpuinfo', () => {
  it('"cpu MHz" in kHz with constant_tsc and no aperfmperf (a VM host: the calibrated TSC rate)', () => {
    expect(tscKhzFromCpuinfo(cpuinfo('constant_tsc nonstop_tsc tsc_known_freq'))).toBe(2000000);
    expect(tscKhzFromCpuinfo(cpuinfo('constant_tsc', '2593.906'))).toBe(2593906);
  });
  it('null without constant_tsc, with aperfmperf (the current core clock), or without a rate', () => {
    expect(tscKhzFromCpuinfo(cpuinfo('nonstop_tsc'))).toBeNull();
    expect(tscKhzFromCpuinfo(cpuinfo('constant_tsc aperfmperf'))).toBeNull();
    expect(tscKhzFromCpuinfo('flags\t: constant_tsc\n')).toBeNull();
    expect(tscKhzFromCpuinfo('')).toBeNull();
  });
});
