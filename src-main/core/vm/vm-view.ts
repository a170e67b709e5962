/** A VM as front ends see it (the contract's `Vm`): its row, plus what is on disk for it. */
import fs from 'node:fs';
import type { Vm } from '@contract';
import type { VmRow } from '@core/store';

export function toVm(
  row: VmRow,
  pendingRestart: boolean,
  paths: { rootDir(name: string): string; rootDisk(name: string): string },
): Vm {
  // whatever the row says: a root kept from an earlier VM of this name lives there too
  const managed = [paths.rootDir(row.name), paths.rootDisk(row.name)].find((p) => fs.existsSync(p)) ?? null;
  const disk = row.rootDisk ? fs.statSync(row.rootDisk, { throwIfNoEntry: false }) : undefined;
  return {
    name: row.name,
    image: row.image,
    cpus: row.cpus,
    memoryMiB: row.memoryMiB,
    append: row.append,
    backend: row.backend,
    accel: row.accel,
    net: row.net,
    machine: row.machine,
    state: row.state,
    pid: row.pid,
    startedAt: row.startedAt,
    exitCode: row.exitCode,
    exitSignal: row.exitSignal,
    lastError: row.lastError,
    rootDir: row.rootDir,
    managedRoot: managed,
    pendingRestart,
    rootDisk: row.rootDisk,
    rootDiskSource: row.rootDiskSource,
    guestAddress: row.state === 'running' || row.state === 'stopping' ? row.guestAddress : null,
    rootDiskBytes: disk ? { size: disk.size, allocated: disk.blocks * 512 } : null,
    rootDiskInPlace: row.rootDisk !== null && row.rootDisk !== paths.rootDisk(row.name),
  };
}
