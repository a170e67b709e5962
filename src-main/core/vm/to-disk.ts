/**
 * `oklinux root to-disk`: a stopped VM's 9p root directory made into an ext4 root disk with `mkfs.ext4 -d`
 * (no root, no mount), written as a temp file and renamed to the VM's own disk (`<vm>/root.img`). From then
 * on the VM boots the disk. The directory is kept as it was (a --root-dir folder is the user's; the app's own
 * goes with "oklinux rm"), and recorded as where the disk came from.
 */
import fs from 'node:fs';
import type { Vm } from '@contract';
import { OkError } from '@contract/errors';
import type { EngineContext } from '@core/context';
import { homeDir } from '@core/shares/host';
import { defaultDiskBytes, diskFromDir, MIB, treeBytes } from './disk';
import type { VmManager } from './manager';
import { checkedRoot } from './root';

export async function rootToDisk(ctx: EngineContext, vms: VmManager, name: string, sizeMiB?: number): Promise<Vm> {
  vms.reconcile(name);
  const before = ctx.store.vms.get(name);
  if (before.rootDisk) {
    throw new OkError('CONFLICT', `The VM "${name}" already boots from the root disk ${before.rootDisk}.`);
  }
  // "stopping", owned by this process, while the disk is made: a racing start is refused, not let in
  const claimed = ctx.store.tx(() => {
    if (!ctx.store.vms.transition(name, ['stopped', 'crashed'], 'stopping')) return false;
    ctx.store.vms.update(name, { supervisorPid: process.pid });
    return true;
  });
  if (!claimed) {
    const st = ctx.store.vms.get(name).state;
    throw new OkError('CONFLICT', `The VM "${name}" is ${st}; stop it first ("oklinux stop ${name}").`);
  }
  const emit = () => ctx.bus.emit({ type: 'vm:state', vm: vms.vm(name) });
  emit();
  try {
    const managed = ctx.paths.rootDir(name);
    const dir = before.rootDir ?? (fs.existsSync(managed) ? managed : null);
    if (!dir) {
      throw new OkError(
        'INVALID_INPUT',
        `The VM "${name}" has no 9p root directory to convert: it is made from its image at the first start. ` +
          `Start it once, or create the VM with --root-disk.`,
      );
    }
    const root = await checkedRoot(dir, managed, { dataDir: ctx.paths.root, home: homeDir(ctx.env) });
    if (!fs.statSync(root, { throwIfNoEntry: false })?.isDirectory()) {
      throw new OkError('NOT_FOUND', `The root directory ${root} of "${name}" is gone.`);
    }
    const disk = ctx.paths.rootDisk(name);
    if (fs.lstatSync(disk, { throwIfNoEntry: false })) {
      throw new OkError(
        'CONFLICT',
        `${disk} is there already (kept from an earlier VM named "${name}"); delete it, then convert again.`,
      );
    }
    const size = sizeMiB ? sizeMiB * MIB : defaultDiskBytes(await treeBytes(root));
    const started = Date.now();
    await diskFromDir(root, disk, size, { vm: name, env: ctx.env });
    ctx.store.tx(() => {
      ctx.store.vms.update(name, { rootDisk: disk, rootDiskSource: root, rootDir: null });
      ctx.store.events.append('vm.root-to-disk', name, { from: root, disk, sizeBytes: size, ms: Date.now() - started });
    });
  } finally {
    ctx.store.vms.update(name, { state: before.state, supervisorPid: null });
    emit();
  }
  return vms.vm(name);
}
