/** `system:*`: the doctor's report of this machine, the app's version and data directory, and what a name means. */
import os from 'node:os';
import type { DoctorReport, Resolved } from '@contract';
import type { ServiceHandlers } from '@core/dispatch';
import type { EngineContext } from '@core/context';
import { toImage } from '@core/images/image';
import { OkError } from '@contract/errors';
import {
  chooseBackend,
  freeDiskBytes,
  kvmStatus,
  QEMU_INSTALL_HINT,
  qemuBinaryName,
  toolVersion,
  which,
} from '@core/host-tools';
import { tapHowto } from '@core/vmm/net';
import { kvmProblem } from '@core/vmm/accel';
import { rootWarning } from '@core/shares/suid';
import { diskToolsWarning } from '@core/vm/disk';
import { version } from '../version';
import type { EngineParts } from './parts';

export async function doctor(ctx: EngineContext): Promise<DoctorReport> {
  const settings = ctx.store.settings.get();
  const qemuPath = which(qemuBinaryName(), ctx.env.PATH);
  const kvm = await kvmStatus();
  // the choice a VM with backend and accel "auto" gets under the current settings
  const vmm = chooseBackend({
    configured: settings.bldyPath,
    binDir: ctx.paths.bin,
    envPath: ctx.env.PATH,
    backend: settings.backend,
    accel: settings.accel,
    kvmProblem: kvm.readWrite ? null : await kvmProblem(kvm.path),
  });
  const root = rootWarning();
  const disk = diskToolsWarning(ctx.env);
  return {
    platform: `${os.platform()} ${os.release()}`,
    arch: os.arch(),
    kvm,
    qemu: { path: qemuPath, version: qemuPath ? await toolVersion(qemuPath) : null },
    vmm: { chosen: vmm.kind, path: vmm.path, reason: vmm.reason },
    dataDir: ctx.paths.root,
    schemaVersion: ctx.store.schemaVersion,
    freeDiskBytes: await freeDiskBytes(ctx.paths.root),
    runningAsRoot: process.geteuid?.() === 0,
    warnings: [...(root ? [root] : []), ...(disk ? [disk] : []), ...ctx.notices],
    network: networkNotes(qemuPath),
  };
}

/** The doctor's network lines: which VMM gives which network, and how to make a TAP for bldy. */
export function networkNotes(qemuPath: string | null, user = os.userInfo().username): string[] {
  return [
    `nat and restricted VMs run on QEMU (user-mode networking, no root needed)${qemuPath ? '' : `, which is not installed: ${QEMU_INSTALL_HINT}`}; bldy refuses them: crosvm has no user-mode networking on Linux`,
    `bldy (and QEMU) can use a TAP device you made, with --net tap:NAME; ${tapHowto('tap0', user)}`,
  ];
}

/**
 * What a name given to `rm` means: the VM of that name, which wins over an image of the same name
 * (the default VM and bundle are both "oklinux"), else the installed image; `kind` insists on one.
 */
function resolve({ ctx, vms }: EngineParts, name: string, kind?: 'vm' | 'image'): Resolved {
  const isVm = !!ctx.store.vms.find(name);
  const image = ctx.store.images.find(name);
  if (kind === 'vm' || (kind !== 'image' && isVm)) return { kind: 'vm', vm: vms.vm(name) };
  if (image) return { kind: 'image', image: toImage(image) };
  throw new OkError(
    'NOT_FOUND',
    kind === 'image'
      ? `The image "${name}" is not installed.`
      : `There is no VM or installed image named "${name}". See "oklinux ls" and "oklinux images".`,
  );
}

export function systemHandlers(parts: EngineParts): ServiceHandlers<'system'> {
  const { ctx } = parts;
  return {
    'system:doctor': () => doctor(ctx),
    'system:info': () => ({ version, dataDir: ctx.paths.root }),
    'system:resolve': ({ name, kind }) => resolve(parts, name, kind),
  };
}
