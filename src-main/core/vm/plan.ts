/**
 * Working out exactly what a start would run: the backend and its binary (backend.ts), the image's boot
 * files, the shares (checked again right before the VMM gets them), the root, the `VmSpec`, and the
 * backend's argv (vmm/backends.ts), with the VM's network and published ports (a taken host port is refused
 * here, on a start, before anything boots). Nothing is started. The files it boots are hashed again (see
 * images/integrity.ts), dry run or not: a changed kernel, initrd or installed bldy is refused with
 * CHECKSUM.
 */
import { OkError } from '@contract/errors';
import type { EngineContext } from '@core/context';
import { relayForward } from '@core/remote/guest';
import type { PinnedFile } from '@core/images/integrity';
import { checkTlsPlacement, guestCanWrite, mountOptions, recheckShareHost, ROOT_TAG, shareGuards } from '@core/shares';
import type { VmRow } from '@core/store';
import { BACKENDS } from '@core/vmm/backends';
import { hostTscKhz } from '@core/vmm/accel';
import { chooseMachine } from '@core/vmm/machine';
import type { NetSpec, ShareSpec, VmSpec, VmmBackend } from '@core/vmm/types';
import { launchTarget, type LaunchTarget } from './backend';
import { checkHostPortFree } from './ports';
import { GUEST_INIT_PATH } from './root';
import { isDiskFormat } from './disk';
import type { LaunchPlan } from './supervisor';

/** What booting needs from an installed image. */
export interface BootImage {
  kernelPath: string;
  initrdPath?: string;
  cmdline: string;
  /** A rootfs tarball that fills the VM's 9p root directory on first boot, or an ext4 image (`rootfsFormat`). */
  rootfs?: string | null;
  /** The rootfs's format from the manifest: `tar.gz` (also when null), or an ext4 image (see vm/disk.ts). */
  rootfsFormat?: string | null;
  /** The kernel has virtio-mmio built in: QEMU boots it on microvm unless the VM says otherwise (`qemuMachine`). */
  virtioMmio?: boolean;
  /** The rootfs tarball's digest, checked before it is extracted. */
  rootfsPin?: PinnedFile;
  /** Files the VMM reads (kernel, initrd), already checked; the supervisor checks them again before it runs. */
  pinned?: PinnedFile[];
}

export interface PlannedStart {
  backend: VmmBackend;
  bin: string;
  args: string[];
  spec: VmSpec;
  accelReason: string;
  /** Why this backend (see `chooseBackend`). */
  backendReason: string;
  /** The VMM binary (an installed bldy) and the boot files, with their digests. */
  pinned: PinnedFile[];
}

/** What planning needs from its owner: the image (pulled unless a dry run) and the root (prepared on a start). */
export interface PlanDeps {
  resolveImage(ref: string, opts: { pull: boolean; signal?: AbortSignal }): Promise<BootImage>;
  prepareRoot?(vm: VmRow, image: BootImage, shares: ShareSpec[]): Promise<VmRoot | null>;
  /** Folders of the app's own code: no guest-writable share may touch them (shares/guards.ts). */
  appDirs?: string[];
  /**
   * The remote-share relay client's argv (QEMU's guestfwd runs it per guest connection; the relay socket
   * and the tag are appended): see core/remote/ and resources/host/oklinux-9p-relay.mjs.
   */
  relayClient?: string[];
}

/** The root a VM boots: a host directory served over 9p, or an ext4 disk image. */
export type VmRoot = { kind: 'dir'; path: string } | { kind: 'disk'; path: string };

/**
 * Which root a VM boots, decided without touching anything: its disk, else its directory (--root-dir, or
 * the one made from a tarball), else what its image's rootfs would make (a disk or a directory under the
 * VM's folder); none when the image has no rootfs (the kernel's own, e.g. an initramfs).
 */
export function rootOf(ctx: EngineContext, vm: VmRow, image: BootImage): VmRoot | null {
  if (vm.rootDisk) return { kind: 'disk', path: vm.rootDisk };
  if (vm.rootDir) return { kind: 'dir', path: vm.rootDir };
  if (!image.rootfs) return null;
  return isDiskFormat(image.rootfsFormat)
    ? { kind: 'disk', path: ctx.paths.rootDisk(vm.name) }
    : { kind: 'dir', path: ctx.paths.rootDir(vm.name) };
}

export type PlanOptions = { pull: boolean; backend?: VmmBackend; prepare: boolean; signal?: AbortSignal };

export async function planStart(
  ctx: EngineContext,
  deps: PlanDeps,
  vm: VmRow,
  opts: PlanOptions,
): Promise<PlannedStart> {
  const target = await launchTarget(ctx, vm, opts);
  const image = await deps.resolveImage(vm.image, { pull: opts.pull, ...(opts.signal ? { signal: opts.signal } : {}) });
  const shares = await shareSpecs(ctx, deps.appDirs ?? [], vm, target, opts.prepare);
  const remoteShares = ctx.store.remoteShares
    .list(vm.name)
    .map(({ tag, guestPath, url, readOnly, tls }) => ({ tag, guestPath, url, readOnly, ...(tls ? { tls } : {}) }));
  // a TLS file the host trusts must still lie where no guest reaches (a share added since may cover it)
  if (opts.prepare) for (const r of remoteShares) if (r.tls) checkTlsPlacement(ctx, r.tls);
  const net = await netSpec(ctx, vm, opts.prepare);
  if (remoteShares.length) {
    if (!deps.relayClient) throw new OkError('INTERNAL', 'remote shares need the relay client (PlanDeps.relayClient)');
    const socket = relaySocket(ctx, vm);
    net.guestForwards = remoteShares.map((r, i) => relayForward(i, r.tag, deps.relayClient!, socket));
  }
  const root = opts.prepare && deps.prepareRoot ? await deps.prepareRoot(vm, image, shares) : rootOf(ctx, vm, image);
  const spec: VmSpec = {
    ...vmSpec(ctx, vm, image, target, shares, root, net),
    ...(remoteShares.length ? { remoteShares } : {}),
    ...(target.backend === 'qemu' ? await qemuMachineOf(vm, image, target) : {}),
  };
  return {
    backend: target.backend,
    bin: target.bin,
    args: await BACKENDS[target.backend].argv(spec, { prepare: opts.prepare }),
    spec,
    accelReason: target.accel.reason,
    backendReason: target.reason,
    pinned: [...target.pinned, ...(image.pinned ?? [])],
  };
}

/** QEMU's machine for the VM (vmm/machine.ts), and the host TSC's rate when a microvm guest under TCG needs it. */
async function qemuMachineOf(
  vm: VmRow,
  image: BootImage,
  target: LaunchTarget,
): Promise<Pick<VmSpec, 'machine' | 'tscKhz'>> {
  const accel = target.accel.accel;
  const tscKhz = accel === 'tcg' && vm.machine !== 'pc' ? await hostTscKhz() : null;
  const { machine } = chooseMachine(vm.name, vm.machine, { virtioMmio: image.virtioMmio ?? false, accel, tscKhz });
  // tscKhz is read under TCG only
  return machine === 'microvm' && tscKhz ? { machine, tscKhz } : { machine };
}

/** The VM's shares with the backend's mount options; on a start, each host folder is checked again. */
async function shareSpecs(
  ctx: EngineContext,
  appDirs: string[],
  vm: VmRow,
  target: LaunchTarget,
  prepare: boolean,
): Promise<ShareSpec[]> {
  const shares: ShareSpec[] = [];
  for (const s of ctx.store.shares.list(vm.name)) {
    // checked again (realpath, data directory, the guards) right before the VMM gets it
    const hostPath = prepare
      ? await recheckShareHost(s.hostPath, {
          writable: !s.readOnly,
          guestWrites: guestCanWrite(target.backend, s.readOnly),
          dataDir: ctx.paths.root,
          ...shareGuards(ctx, appDirs, { vm: vm.name, tag: s.tag }, [target.bin]),
        })
      : s.hostPath;
    shares.push({
      tag: s.tag,
      hostPath,
      readOnly: s.readOnly,
      guestPath: s.guestPath,
      mountOptions: mountOptions(target.backend, s.readOnly),
    });
  }
  return shares;
}

/** The VM's network and the ports it publishes; on a start, each host port must be free now. */
async function netSpec(ctx: EngineContext, vm: VmRow, prepare: boolean): Promise<NetSpec> {
  const forwards = ctx.store.ports
    .list(vm.name)
    .map(({ protocol, hostAddr, hostPort, guestPort }) => ({ protocol, hostAddr, hostPort, guestPort }));
  // a taken host port is refused here, before anything boots, naming it
  if (prepare) for (const p of forwards) await checkHostPortFree(vm.name, p);
  return { mode: vm.net, forwards };
}

function vmSpec(
  ctx: EngineContext,
  vm: VmRow,
  image: BootImage,
  target: LaunchTarget,
  shares: ShareSpec[],
  root: VmRoot | null,
  net: NetSpec,
): VmSpec {
  return {
    name: vm.name,
    kernelPath: image.kernelPath,
    ...(image.initrdPath ? { initrdPath: image.initrdPath } : {}),
    params: [
      image.cmdline,
      // a panic ends the VM (it shows as crashed, with the panic line) instead of hanging
      /(^|\s)panic=/.test(`${image.cmdline} ${vm.append}`) ? '' : 'panic=-1',
      `oklinux.hostname=${vm.name}`,
      root ? `init=${GUEST_INIT_PATH}` : '',
      vm.append,
    ],
    cpus: vm.cpus,
    memoryMiB: vm.memoryMiB,
    accel: target.accel.accel,
    runDir: ctx.paths.runDir(vm.id),
    controlSocket: ctx.paths.socket(vm.id, BACKENDS[target.backend].controlSocket),
    shares,
    ...(root?.kind === 'dir' ? { rootShare: { tag: ROOT_TAG, hostPath: root.path } } : {}),
    ...(root?.kind === 'disk' ? { rootDisk: { path: root.path, readOnly: false } } : {}),
    net,
  };
}

/** The supervisor's remote-share relay socket (core/remote/relay.ts), in the VM's private socket folder. */
export function relaySocket(ctx: EngineContext, vm: VmRow): string {
  return ctx.paths.socket(vm.id, 'relay.sock');
}

/** A positive number of milliseconds from the environment (tests and benchmarks tune these), else `dflt`. */
export const envMs = (env: NodeJS.ProcessEnv, key: string, dflt: number): number => {
  const v = Number(env[key]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
};

/** Every share the guest can write: on bldy that is every share (it cannot enforce read-only). */
export function guestWritableShares(planned: PlannedStart): string[] {
  return planned.spec.shares.filter((s) => guestCanWrite(planned.backend, s.readOnly)).map((s) => s.hostPath);
}

/** What the supervisor gets (signed, see plan-auth.ts): the VMM's argv, its sockets and logs, its timeouts. */
export function launchPlan(ctx: EngineContext, vm: VmRow, planned: PlannedStart): LaunchPlan {
  return {
    vm: vm.name,
    dbFile: ctx.paths.db,
    backend: planned.backend,
    bin: planned.bin,
    args: planned.args,
    cwd: planned.spec.runDir,
    controlSocket: planned.spec.controlSocket,
    consoleSocket: ctx.paths.socket(vm.id, 'console.sock'),
    logFile: ctx.paths.consoleLog(vm.name),
    gracefulMs: envMs(ctx.env, 'OKLINUX_STOP_GRACE_MS', 30_000),
    watchdogMs: envMs(ctx.env, 'OKLINUX_BOOT_WATCHDOG_MS', 30_000),
    watchdogHint:
      planned.spec.accel === 'kvm'
        ? 'KVM guests can hang on some hosts: try "--accel tcg" (oklinux create … --accel tcg, or the accel setting).'
        : 'Check that the kernel prints to ttyS0 (console=ttyS0 on its command line).',
    setIdScrub: guestWritableShares(planned),
    verify: planned.pinned,
    ...(planned.spec.remoteShares?.length
      ? {
          relay: {
            socket: relaySocket(ctx, vm),
            // a 9p+quic share's TLS file paths (never their contents) ride in the signed plan
            shares: planned.spec.remoteShares.map(({ tag, url, tls }) => ({ tag, url, ...(tls ? { tls } : {}) })),
          },
        }
      : {}),
  };
}
