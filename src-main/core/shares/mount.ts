/**
 * How the guest mounts shares. The guest contract: each share adds one kernel
 * parameter `oklinux.mount=<tag>:<guest-path>:<options>`; the root share adds
 * `root=<tag> rootfstype=9p rootflags=<options> rw`.
 */
import { BACKEND_FACTS } from '@core/vmm/facts';
import type { VmmBackend } from '@core/vmm/types';
import { ROOT_TAG } from './tags';

/** 9p msize for QEMU and for bldy (why each: see vmm/facts.ts). */
export const QEMU_MSIZE = BACKEND_FACTS.qemu.msize;
export const BLDY_MSIZE = BACKEND_FACTS.bldy.msize;

export function msizeFor(backend: VmmBackend): number {
  return BACKEND_FACTS[backend].msize;
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

/** The 9p cache modes of the Linux client (`cache=`); fscache needs CONFIG_9P_FSCACHE. */
export const P9_CACHE_MODES = ['none', 'readahead', 'mmap', 'loose', 'fscache'] as const;
export type P9CacheMode = (typeof P9_CACHE_MODES)[number];

/**
 * The 9p root's cache mode: `loose` (#11 item 5). While a VM runs, its root is used by its guest alone: the app
 * writes the init and the fstab block only before the VMM starts, and the set-id guard watches shares, not the
 * root. So the guest may trust its own cache of the root's names, attributes and data, which `npm run bench:root`
 * measured about 4x faster than `mmap` on the metadata workload (untar 5,000 files, find, du, rm). Nothing is lost
 * (test/vm/root-cache.test.ts): a clean stop syncs before it powers off, and `sync`/fsync write the guest's dirty
 * pages through to the 9p server, whose writes survive a guest panic and a VMM kill alike. The cost: a change made
 * on the host to a running VM's root (a `--root-dir` edited by hand) may go unseen by the guest until it restarts.
 * Shares keep `cache=mmap` (mountOptions): the host may change them while the guest runs.
 *
 * Why `loose` and not more: it is the fastest mode of the 6.1 test kernel that loses nothing. `fscache` needs
 * CONFIG_9P_FSCACHE (not built) and caches data, not the metadata round trips that dominate; 6.1 has no `noxattr`;
 * `access=` changes who attaches, not how many requests, and `posixacl` adds ACL xattr requests; msize hardly
 * matters for small messages (65536 against 512000 differed by less than run-to-run noise). What stays is the
 * client's round trips: QEMU's 9p trace counts about 40 requests per file on bench:root's untar (two failed walks,
 * as `loose` drops negative dentries; walk + lcreate; walk + getattr; walk + lopen of the writeback fid; a write
 * forced out by the first setattr; chown, chmod and utimes each a setattr then a getattr; tar's own /etc/passwd and
 * /etc/group opens; clunks), each through the guest's 9p/virtio path on an emulated CPU. Closing the gap needs a
 * guest with fewer round trips (a newer kernel's 9p caching) or cheaper ones (KVM), not a mount option. Figures:
 * the README's "Root filesystems".
 */
export const ROOT_CACHE: P9CacheMode = 'loose';

/** Kernel parameters that boot from the 9p root share (`cache` for benchmarks; the default is ROOT_CACHE). */
export function rootParams(backend: VmmBackend, tag: string = ROOT_TAG, cache: P9CacheMode = ROOT_CACHE): string {
  return `root=${tag} rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=${msizeFor(backend)},cache=${cache} rw`;
}

/**
 * Whether a guest can write a share on this backend: a read-write share always; a read-only one
 * when the backend's 9p server cannot refuse writes (`readOnlyShares` in vmm/facts.ts: bldy, whose
 * guest's `ro` mount flag is all there is, and a guest root can remount). QEMU enforces read-only on
 * the host (`readonly=on`).
 */
export function guestCanWrite(backend: VmmBackend, readOnly: boolean): boolean {
  return !readOnly || !BACKEND_FACTS[backend].readOnlyShares;
}

/** Whether the guest of a VM set to `backend` may write a share: `auto` may start on any backend. */
export function guestMayWrite(backend: VmmBackend | 'auto', readOnly: boolean): boolean {
  const backends = backend === 'auto' ? (Object.keys(BACKEND_FACTS) as VmmBackend[]) : [backend];
  return backends.some((b) => guestCanWrite(b, readOnly));
}
