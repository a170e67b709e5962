import type { Vm } from '@contract';

/** A VM as the contract gives it (stopped, 1 CPU, 512 MiB, NAT, image `oklinux`), with `over` on top. */
export const sampleVm = (name: string, over: Partial<Vm> = {}): Vm => ({
  name,
  image: 'oklinux',
  cpus: 1,
  memoryMiB: 512,
  append: '',
  backend: 'auto',
  accel: 'auto',
  net: 'nat',
  machine: 'auto',
  state: 'stopped',
  pid: null,
  startedAt: null,
  exitCode: null,
  exitSignal: null,
  lastError: null,
  rootDir: null,
  managedRoot: null,
  rootDisk: null,
  rootDiskSource: null,
  rootDiskBytes: null,
  rootDiskInPlace: false,
  guestAddress: null,
  pendingRestart: false,
  ...over,
});
