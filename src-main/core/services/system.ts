import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import type { DoctorReport, DirListing } from '@contract';
import type { Handlers } from '@core/dispatch';
import type { EngineContext } from '@core/context';
import { OkError } from '@contract/errors';
import { chooseBackend, freeDiskBytes, kvmStatus, qemuBinaryName, toolVersion, which } from '@core/host-tools';
import { kvmProblem } from '@core/vmm/accel';
import { rootWarning } from '@core/shares/suid';
import { version } from '../version';
import { setSettings } from './settings';

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
    warnings: [...(root ? [root] : []), ...ctx.notices],
  };
}

/** A server-side directory browser, for the browser host where the page cannot see host paths. */
export async function listDir(p: string | undefined): Promise<DirListing> {
  const dir = path.resolve(p ?? os.homedir());
  let dirents: fs.Dirent[];
  try {
    dirents = await fs.promises.readdir(dir, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new OkError('NOT_FOUND', `The folder ${dir} does not exist.`);
    if (code === 'ENOTDIR') throw new OkError('INVALID_INPUT', `${dir} is a file, not a folder.`);
    throw new OkError('INVALID_INPUT', `The folder ${dir} cannot be read (${code ?? 'error'}).`);
  }
  const entries = dirents
    .filter((d) => !d.name.startsWith('.'))
    .map((d) => ({ name: d.name, path: path.join(dir, d.name), dir: d.isDirectory() }))
    .sort((a, b) => Number(b.dir) - Number(a.dir) || a.name.localeCompare(b.name));
  const parent = path.dirname(dir);
  return { path: dir, parent: parent === dir ? null : parent, entries };
}

export function systemHandlers(
  ctx: EngineContext,
): Pick<Handlers, 'system:doctor' | 'system:info' | 'settings:get' | 'settings:set' | 'fs:list'> {
  return {
    'system:doctor': () => doctor(ctx),
    'system:info': () => ({ version, dataDir: ctx.paths.root }),
    'settings:get': () => ctx.store.settings.get(),
    'settings:set': (patch, caller) => setSettings(ctx, patch, caller),
    'fs:list': ({ path: p }) => listDir(p),
  };
}
