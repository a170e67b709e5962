/** How a VM's network reads in the UI (the modes are in src-main/contract/schemas.ts, `NetMode`). */
import type { NetMode } from '@contract';

export function netLabel(mode: NetMode): string {
  switch (mode) {
    case 'nat':
      return 'NAT network';
    case 'restricted':
      return 'restricted network';
    case 'none':
      return 'no network';
    default:
      return `TAP ${mode.slice(4)}`;
  }
}

/** The guest's addresses under QEMU user-mode networking, for a tooltip. */
export function netTitle(mode: NetMode): string {
  switch (mode) {
    case 'nat':
      return 'The guest is 10.0.2.15; it reaches this computer at 10.0.2.2 and the internet through it (DNS 10.0.2.3).';
    case 'restricted':
      return 'The guest is 10.0.2.15, but no traffic leaves the VM: it cannot reach this computer or the internet.';
    case 'none':
      return 'The VM has no network device.';
    default:
      return `The VM is on the TAP device ${mode.slice(4)}; its address comes from your DHCP server or your own setup.`;
  }
}
