/**
 * How the guest mounts shares. The guest contract: each share adds one kernel
 * parameter `oklinux.mount=<tag>:<guest-path>:<options>`; the root share adds
 * `root=<tag> rootfstype=9p rootflags=<options> rw`.
 */
import type { VmmBackend } from '@core/vmm/types';
import { ROOT_TAG } from './tags';

/**
 * 9p msize for QEMU: the largest the Linux virtio-9p transport takes as-is (4 KiB pages x 125 ring
 * slots = 512000; a larger msize is clamped to it). `npm run bench:vm` measured it at about 2x the
 * throughput of 131072, the client's own default.
 */
export const QEMU_MSIZE = 512000;
/** 9p msize for bldy: crosvm's p9 server caps msize at 64 KiB of payload + 24 bytes of header. */
export const BLDY_MSIZE = 65560;

export function msizeFor(backend: VmmBackend): number {
  return backend === 'bldy' ? BLDY_MSIZE : QEMU_MSIZE;
}

/**
 * Guest mount options for a share. `cache=mmap` keeps files written on the host after
 * boot whole in the guest (lima PR #5140). `ro` is the only read-only guard on bldy,
 * whose p9 server has no read-only option.
 */
export function mountOptions(backend: VmmBackend, readOnly: boolean): string {
  return `trans=virtio,version=9p2000.L,msize=${msizeFor(backend)},cache=mmap${readOnly ? ',ro' : ''}`;
}

export interface MountedShare {
  tag: string;
  guestPath: string;
  mountOptions: string;
}

/** The kernel parameter that asks the guest to mount one share. */
export function mountParam(share: MountedShare): string {
  return `oklinux.mount=${share.tag}:${share.guestPath}:${share.mountOptions}`;
}

/** The /etc/fstab line for a share, for guests that mount from fstab. */
export function fstabLine(share: MountedShare): string {
  return `${share.tag} ${share.guestPath} 9p ${share.mountOptions},_netdev,nofail 0 0`;
}

/** Kernel parameters that boot from the 9p root share. */
export function rootParams(backend: VmmBackend, tag: string = ROOT_TAG): string {
  return `root=${tag} rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=${msizeFor(backend)},cache=mmap rw`;
}

/**
 * Whether a guest can write a share on this backend: a read-write share always; a read-only one
 * only on bldy, whose p9 server has no read-only option (the guest's `ro` mount flag is all there
 * is, and a guest root can remount). QEMU enforces read-only on the host (`readonly=on`).
 */
export function guestCanWrite(backend: VmmBackend, readOnly: boolean): boolean {
  return !readOnly || backend === 'bldy';
}
