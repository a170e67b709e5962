/** How a VM's QEMU machine setting reads in the UI (the settings are in src-main/contract/schemas.ts, `MachineSetting`). */
import type { Vm } from '@contract';

/** Each setting's label and what it means (for a tooltip). */
const MACHINES: Record<Vm['machine'], { label: string; title: string }> = {
  microvm: {
    label: 'microvm',
    title: "QEMU's microvm machine: virtio-mmio devices, no PCI, a faster boot (the kernel needs virtio-mmio)",
  },
  pc: {
    label: 'PC machine',
    title: "QEMU's PC machine: virtio over PCI, for any kernel (oklinux create --machine pc)",
  },
  auto: {
    label: 'machine auto',
    title:
      "QEMU's microvm machine for a kernel with virtio-mmio built in (okLinux's), else the PC machine; override with oklinux create --machine microvm|pc",
  },
};

/** The entry for a setting; one this table lacks reads as auto. */
const of = (machine: Vm['machine']): { label: string; title: string } => MACHINES[machine] ?? MACHINES.auto;

export function machineLabel(machine: Vm['machine']): string {
  return of(machine).label;
}

/** What the setting means, for a tooltip. */
export function machineTitle(machine: Vm['machine']): string {
  return of(machine).title;
}
