/**
 * Making a VM, and the one-click launch: the defaults a new VM gets, and the check of a root
 * directory chosen for it (its realpath is what is stored, after the checks ran on it; see
 * shares/host.ts). Its network is `nat` unless asked (`none` for a VM set to bldy, which has no
 * user-mode networking and refuses the others); its ports are made in the same transaction.
 */
import fs from 'node:fs';
import type { Input, Vm } from '@contract';
import { OkError } from '@contract/errors';
import type { EngineContext } from '@core/context';
import { checkRootDir, homeDir } from '@core/shares/host';
import { bldyNetProblem } from '@core/vmm/net';
import type { VmRow } from '@core/store';
import type { VmManager } from './manager';
import { checkRootDiskFile, copyDisk } from './disk';
import { addPort } from './port-changes';
import { DEFAULT_IMAGE, DEFAULT_VM } from './defaults';

export const DEFAULT_CPUS = 2;
export const DEFAULT_MEMORY_MIB = 1024;

export async function createVm(ctx: EngineContext, vms: VmManager, input: Input<'vms:create'>): Promise<Vm> {
  if (input.rootDir && input.rootDisk) {
    throw new OkError('INVALID_INPUT', 'Give --root-dir or --root-disk, not both: a VM boots from one root.');
  }
  if (input.rootDiskRw && !input.rootDisk) {
    throw new OkError(
      'INVALID_INPUT',
      '--rw applies to --root-disk FILE (it boots that file itself); give --root-disk too.',
    );
  }
  const rootDir = input.rootDir
    ? await checkRootDir(input.rootDir, { dataDir: ctx.paths.root, home: homeDir(ctx.env) })
    : null;
  // a name taken is refused before a disk is copied for it
  if (input.rootDisk && ctx.store.vms.find(input.name)) {
    throw new OkError('ALREADY_EXISTS', `A VM named "${input.name}" already exists.`);
  }
  const disk = input.rootDisk ? await rootDiskFor(ctx, input.name, input.rootDisk, input.rootDiskRw ?? false) : null;
  try {
    return await insertVm(ctx, vms, input, rootDir, disk);
  } catch (e) {
    if (disk?.copied) fs.rmSync(disk.path, { force: true });
    throw e;
  }
}

/**
 * The disk a new VM boots: with --rw the user's file itself; else the VM's own copy of it (sparse, or a
 * clone), so the file is never changed. The VM's own disk, kept from an earlier VM of this name, is used as
 * it is.
 */
async function rootDiskFor(
  ctx: EngineContext,
  name: string,
  given: string,
  rw: boolean,
): Promise<{ path: string; source: string | null; copied: boolean }> {
  const own = ctx.paths.rootDisk(name);
  const real = await checkRootDiskFile(given, { dataDir: ctx.paths.root, writable: rw, ownDisk: own });
  if (rw || real === own) {
    const other = ctx.store.vms.list().find((v) => v.rootDisk === real);
    if (other) {
      throw new OkError(
        'CONFLICT',
        `--root-disk ${real} is already the root disk of the VM "${other.name}", which changes it; leave out --rw to boot a copy.`,
      );
    }
    return { path: real, source: null, copied: false };
  }
  if (fs.lstatSync(own, { throwIfNoEntry: false })) {
    throw new OkError(
      'CONFLICT',
      `${own} is there already (kept from an earlier VM named "${name}"): boot it with "--root-disk ${own}", or delete it first.`,
    );
  }
  await copyDisk(real, own);
  return { path: own, source: real, copied: true };
}

function vmFields(input: Input<'vms:create'>, backend: VmRow['backend'], net: VmRow['net']) {
  return {
    name: input.name,
    image: input.image,
    cpus: input.cpus ?? DEFAULT_CPUS,
    memoryMiB: input.memoryMiB ?? DEFAULT_MEMORY_MIB,
    append: input.append ?? '',
    backend,
    accel: input.accel ?? 'auto',
    machine: input.machine ?? 'auto',
    net,
  };
}

async function insertVm(
  ctx: EngineContext,
  vms: VmManager,
  input: Input<'vms:create'>,
  rootDir: string | null,
  disk: { path: string; source: string | null } | null,
): Promise<Vm> {
  const backend = input.backend ?? 'auto';
  // bldy has no user-mode networking: a VM made for it has none unless asked, and then it is refused
  const net = input.net ?? (backend === 'bldy' ? 'none' : 'nat');
  const netProblem = backend === 'bldy' ? bldyNetProblem(input.name, net) : null;
  if (netProblem) throw new OkError('INVALID_INPUT', `${netProblem}.`);
  // the VM and its ports are one transaction: a refused port leaves no VM behind
  ctx.store.tx(() => {
    ctx.store.vms.create({
      ...vmFields(input, backend, net),
      rootDir,
      rootDisk: disk?.path ?? null,
      rootDiskSource: disk?.source ?? null,
    });
    for (const p of input.publish ?? []) addPort(ctx, input.name, p, false);
  });
  ctx.store.events.append('vm.created', input.name, input);
  const vm = vms.vm(input.name);
  ctx.bus.emit({ type: 'vm:state', vm });
  return vm;
}

/**
 * One click: create the VM if it does not exist (with the default okLinux bundle unless `image` is
 * given), then start it, pulling what is missing.
 */
export async function launchVm(ctx: EngineContext, vms: VmManager, input: Input<'vms:launch'>): Promise<Vm> {
  const { name = DEFAULT_VM, image, ...create } = input;
  if (!ctx.store.vms.find(name)) await createVm(ctx, vms, { ...create, name, image: image ?? DEFAULT_IMAGE });
  vms.reconcile(name);
  const vm = vms.vm(name);
  if (vm.state === 'running' || vm.state === 'starting') return vm;
  return vms.start(name);
}
