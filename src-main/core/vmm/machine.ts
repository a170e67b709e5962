/**
 * QEMU's machines, the one table of what differs between them (qemu.ts and net.ts read it), and which one a
 * VM gets. Pure: the host's TSC frequency is read in accel.ts.
 *
 * - `pc` (QEMU's default, no `-M`): SeaBIOS, virtio over PCI. Any kernel, e.g. Debian's modular one whose
 *   initramfs loads virtio_pci.
 * - `microvm` (`-M microvm`): qboot, no PCI, the console on its ISA serial port, every virtio device in its
 *   `-device` form (virtio-9p-device, virtio-net-device, virtio-blk-device) on virtio-mmio, which ACPI
 *   describes. The kernel needs VIRTIO_MMIO built in (okLinux's has it). ACPI stays on: it carries the power
 *   button that a graceful stop presses (with `acpi=off` QEMU has no way to ask the guest).
 * - microvm's ACPI is "hardware-reduced": Linux then runs no PIT tick and has no PM timer or HPET, so the TSC
 *   can only be calibrated by its quick PIT method. Under KVM the guest reads kvm-clock instead. Under TCG on a
 *   busy host that calibration fails now and then, and the boot hangs for good before the console opens
 *   (3 of 6 boots here, with or without `acpi_skip_timer_override`; none of 10 raw boots with
 *   `tsc_early_khz`). So under TCG the guest is told the TSC's rate (`tsc_early_khz=`: TCG's guest TSC is the
 *   host's), and `auto` picks microvm under TCG only when that rate is known (see `hostTscKhz`).
 */
import { OkError } from '@contract/errors';
import type { Accel, QemuMachine } from './types';

/** What differs between QEMU's machines: how it is named, its virtio transport, its guest needs. */
export interface QemuMachineFacts {
  /** The `-M` value; null for QEMU's default machine. */
  option: string | null;
  /** How virtio devices attach: `virtio-X-pci` on PCI, `virtio-X-device` on virtio-mmio. */
  virtio: 'pci' | 'mmio';
  /** Kernel parameters the machine needs under this accelerator (`tscKhz`: the host TSC's rate, when known). */
  params(accel: Accel, tscKhz?: number): string[];
}

export const QEMU_MACHINES: Readonly<Record<QemuMachine, QemuMachineFacts>> = {
  pc: { option: null, virtio: 'pci', params: () => [] },
  microvm: {
    option: 'microvm',
    virtio: 'mmio',
    params: (accel, tscKhz) => (accel === 'tcg' && tscKhz ? [`tsc_early_khz=${tscKhz}`] : []),
  },
};

/** The `-device` driver of a virtio device on `machine`'s transport. */
export function virtioDevice(kind: 'virtio-9p' | 'virtio-net' | 'virtio-blk', machine: QemuMachine = 'pc'): string {
  return `${kind}-${QEMU_MACHINES[machine].virtio === 'pci' ? 'pci' : 'device'}`;
}

export interface MachineChoice {
  machine: QemuMachine;
  reason: string;
}

/**
 * The machine a QEMU VM boots on: its own setting (`create --machine`), else microvm when its image's kernel
 * has virtio-mmio and the guest can keep time there (KVM, or TCG with the host TSC's rate known), else pc.
 * An explicit microvm that cannot keep time is refused, naming the fix.
 */
export function chooseMachine(
  vm: string,
  setting: 'auto' | QemuMachine,
  o: { virtioMmio: boolean; accel: Accel; tscKhz: number | null },
): MachineChoice {
  const clock = o.accel === 'kvm' || o.tscKhz !== null;
  if (setting === 'pc') return { machine: 'pc', reason: `"${vm}" is set to machine pc` };
  if (setting === 'microvm') {
    if (!clock)
      throw new OkError(
        'UNSUPPORTED',
        `"${vm}" is set to QEMU's microvm machine, but under TCG its guest needs the host's TSC rate, which this ` +
          'host does not report (/proc/cpuinfo: constant_tsc without aperfmperf); use "--machine pc" or KVM',
      );
    return { machine: 'microvm', reason: `"${vm}" is set to machine microvm` };
  }
  if (!o.virtioMmio) return { machine: 'pc', reason: 'auto: the kernel is not known to have virtio-mmio' };
  if (!clock) return { machine: 'pc', reason: "auto: under TCG microvm needs the host's TSC rate, which is unknown" };
  return { machine: 'microvm', reason: 'auto: the kernel has virtio-mmio built in' };
}
