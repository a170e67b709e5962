/**
 * One table of what differs between the VMMs okLinux drives, in the spirit of Lima's `driver.Driver`:
 * every place that asks "which backend?" reads its answer here, so a new backend (or a new fact) is
 * one row, not a hunt. Pure data: the argv builders that go with it are in backends.ts.
 */
import type { NetKind, VmmBackend } from './types';

export interface BackendFacts {
  /** The program run when no path is configured (looked up on PATH). */
  program: string;
  /** The control socket's file name in the VM's socket folder: QMP for QEMU, crosvm's control socket for bldy. */
  controlSocket: 'qmp.sock' | 'control.sock';
  /** It runs guests only under KVM (no software emulation). */
  needsKvm: boolean;
  /**
   * How the guest is asked to power off: QMP `system_powerdown` (ACPI), or `bldy powerbtn SOCK`; either way,
   * past the grace period, SIGTERM and then SIGKILL.
   */
  powerOff: 'qmp-system-powerdown' | 'powerbtn';
  /**
   * The 9p msize the guest mounts with. QEMU: the largest the Linux virtio-9p transport takes as-is (4 KiB
   * pages x 125 ring slots = 512000; larger is clamped); `npm run bench:vm` measured about 2x the throughput of
   * 131072, the client's own default. bldy: crosvm's p9 server caps msize at 64 KiB of payload + 24 bytes.
   */
  msize: number;
  /** Its 9p server can refuse writes to a read-only share; without it the guest's `ro` mount is the only guard. */
  readOnlyShares: boolean;
  /**
   * The guest networks it can give (see net.ts): QEMU's user-mode networking (slirp) needs no root; bldy
   * (crosvm) has none on Linux (it needs a TAP device, which needs CAP_NET_ADMIN), so only `none` and a TAP
   * the user made (`tap`). QEMU takes a TAP too (`-netdev tap,ifname=…`).
   */
  networking: readonly NetKind[];
}

/** QEMU's system emulator for this machine's architecture. */
export function qemuBinaryName(arch: string = process.arch): string {
  return `qemu-system-${arch === 'arm64' ? 'aarch64' : 'x86_64'}`;
}

export const BACKEND_FACTS: Readonly<Record<VmmBackend, BackendFacts>> = {
  qemu: {
    program: qemuBinaryName(),
    controlSocket: 'qmp.sock',
    needsKvm: false,
    powerOff: 'qmp-system-powerdown',
    msize: 512000,
    readOnlyShares: true,
    networking: ['nat', 'restricted', 'none', 'tap'],
  },
  bldy: {
    program: 'bldy',
    controlSocket: 'control.sock',
    needsKvm: true,
    powerOff: 'powerbtn',
    msize: 65560,
    readOnlyShares: false,
    networking: ['none', 'tap'],
  },
};
