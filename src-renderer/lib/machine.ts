/** How a VM's QEMU machine setting reads in the UI (the settings are in src-main/contract/schemas.ts, `MachineSetting`). */
import type { Vm } from '@contract';

export function machineLabel(machine: Vm['machine']): string {
  switch (machine) {
    case 'microvm':
      return 'microvm';
    case 'pc':
      return 'PC machine';
    default:
      return 'machine auto';
  }
}

/** What the setting means, for a tooltip. */
export function machineTitle(machine: Vm['machine']): string {
  switch (machine) {
    case 'microvm':
      return "QEMU's microvm machine: virtio-mmio devices, no PCI, a faster boot (the kernel needs virtio-mmio)";
    case 'pc':
      return "QEMU's PC machine: virtio over PCI, for any kernel (oklinux create --machine pc)";
    default:
      return "QEMU's microvm machine for a kernel with virtio-mmio built in (okLinux's), else the PC machine; override with oklinux create --machine microvm|pc";
  }
}
