/**
 * What a VM is made of, independent of the VMM that runs it. The backends turn a
 * `VmSpec` into an argv (`bldyArgv`, `qemuArgv`); nothing here touches the disk.
 *
 * This folder (core/vmm/) is the VMMs okLinux drives (QEMU, bldy): one row of facts per backend
 * (facts.ts), the argv each builds from a `VmSpec` (backends.ts), the accelerator and QMP. Nothing here
 * reads the store or the settings.
 */

/** The VMMs okLinux drives. bldy is a crosvm fork with the same command line. */
export type VmmBackend = 'bldy' | 'qemu';

/** CPU virtualisation: hardware (KVM) or QEMU's software emulator (TCG). */
export type Accel = 'kvm' | 'tcg';

/** A host folder served to the guest over virtio-9p and mounted by the guest at `guestPath`. */
export interface ShareSpec {
  /** 9p mount tag: 1-31 bytes of [A-Za-z0-9_-] (see `validateTag`). */
  tag: string;
  /** Absolute host directory. */
  hostPath: string;
  readOnly: boolean;
  /** Absolute guest mount point (see `validateGuestPath`). */
  guestPath: string;
  /** Guest mount options, from `mountOptions(backend, readOnly)`. */
  mountOptions: string;
  /**
   * bldy only: extra crosvm p9 options, each `key=value`. Accepted keys: `ascii_casefold`
   * (true|false), and the sandbox id-mapping keys `uid`, `gid`, `uidmap`, `gidmap`, which turn
   * bldy's sandbox on (see bldy.ts). QEMU rejects a share that has any.
   */
  p9Options?: string[];
}

/**
 * The VM's root filesystem, a host directory served over 9p ("rootless" okLinux). The
 * guest mounts it read-write through `root=<tag> rootfstype=9p rootflags=…` (see `rootParams`).
 */
export interface RootShareSpec {
  /** Normally `ROOT_TAG`. */
  tag: string;
  hostPath: string;
}

/**
 * The VM's root filesystem as an ext4 disk image on a virtio block device (the guest's /dev/vda),
 * booted with `root=/dev/vda rw|ro rootfstype=ext4`. A VM has a root share or a root disk, never both.
 */
export interface RootDiskSpec {
  /** Absolute host path of the raw ext4 image. */
  path: string;
  /** The VMM opens it read-only and the kernel mounts it `ro`. */
  readOnly: boolean;
}

/**
 * A VM's network: QEMU user-mode NAT, the same cut off from everything but forwards, no device, or a
 * TAP device the user made (`tap:NAME`, for bldy and QEMU; see net.ts).
 */
export type NetMode = 'nat' | 'restricted' | 'none' | `tap:${string}`;
/** The kind of a `NetMode` (`tap:NAME` is `tap`): what a backend can give (vmm/facts.ts). */
export type NetKind = 'nat' | 'restricted' | 'none' | 'tap';

/** The VM's network (see net.ts). */
export interface NetSpec {
  mode: NetMode;
  /** Published ports: the host's `hostAddr:hostPort` forwards to the guest's `guestPort`. */
  forwards?: { protocol: 'tcp' | 'udp'; hostAddr: string; hostPort: number; guestPort: number }[];
  /**
   * Guest connections to `guestAddr:guestPort` that QEMU hands, one per connection, to `command` on its
   * stdio (`guestfwd=tcp:ADDR:PORT-cmd:COMMAND`): the remote-share relay (core/remote/). `command` is an
   * argv, quoted for QEMU's shell-style split here.
   */
  guestForwards?: { guestAddr: string; guestPort: number; command: string[] }[];
}

export interface VmSpec {
  /** The VM's name (also used in messages). */
  name: string;
  kernelPath: string;
  initrdPath?: string;
  /**
   * Kernel command line groups, in order: the bundle's base string, then the user's extra
   * parameters. Blank groups are dropped. The backends append the root and share groups.
   */
  params: string[];
  cpus: number;
  memoryMiB: number;
  accel: Accel;
  /** Per-VM run directory (sockets, share symlinks); must exist before `prepareBldyShares`. */
  runDir: string;
  /** bldy control socket or QEMU QMP socket; at most 107 bytes (unix socket limit). */
  controlSocket: string;
  shares: ShareSpec[];
  rootShare?: RootShareSpec;
  /** An ext4 root disk instead of a root share (see `RootDiskSpec`). */
  rootDisk?: RootDiskSpec;
  /** Absent: no network device and no `oklinux.net=` parameter (the guest's network is left alone). */
  net?: NetSpec;
  /**
   * Remote 9p shares, mounted by the guest over the network through the relay (core/remote/guest.ts): the
   * Nth is `oklinux.remote=…` at the relay address's port base+N, which `net.guestForwards[N]` relays.
   */
  remoteShares?: {
    tag: string;
    guestPath: string;
    url: string;
    readOnly: boolean;
    /** A `9p+quic://` share's TLS files (realpaths), which the supervisor's relay reads; not the VMM's business. */
    tls?: { ca: string; cert?: string; key?: string };
  }[];
}
