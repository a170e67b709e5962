/**
 * Checks a `VmSpec` before a backend turns it into an argv, and builds the kernel
 * command line groups both backends share.
 */
import path from 'node:path';
import { OkError } from '@contract/errors';
import { checkTagSyntax } from '@core/shares/tags';
import { validateShareLayout } from '@core/shares/layout';
import { msizeFor, mountParam, rootParams } from '@core/shares/mount';
import { netParam } from './net';
import { remoteMountParam } from '@core/remote/guest';
import type { VmmBackend, VmSpec } from './types';

/** sun_path is 108 bytes including the terminating NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;
/** x86 COMMAND_LINE_SIZE is 2048 bytes including the terminating NUL. */
export const MAX_CMDLINE_BYTES = 2047;

function invalid(spec: VmSpec, what: string): never {
  throw new OkError('INVALID_INPUT', `VM "${spec.name}": ${what}`);
}

function checkAbsolute(spec: VmSpec, field: string, p: string): void {
  if (!path.isAbsolute(p)) invalid(spec, `${field} "${p}" is not an absolute path`);
}

function checkMountOptions(spec: VmSpec, backend: VmmBackend, tag: string, readOnly: boolean, options: string): void {
  if (!/^[^\s:"'\\]+$/.test(options)) {
    invalid(
      spec,
      `share "${tag}" has mount options "${options}" with whitespace, ":", quotes or backslashes; build them with mountOptions()`,
    );
  }
  const opts = options.split(',');
  if (readOnly && !opts.includes('ro')) {
    invalid(spec, `share "${tag}" is read-only but its mount options "${options}" lack "ro"`);
  }
  const msize = opts.find((o) => o.startsWith('msize='));
  const limit = msizeFor(backend);
  if (backend === 'bldy' && msize && !(Number(msize.slice(6)) <= limit)) {
    invalid(
      spec,
      `share "${tag}" asks for ${msize}, but bldy's 9p server caps msize at ${limit}; use mountOptions('bldy', …)`,
    );
  }
}

/** Throws INVALID_INPUT naming the VM and the field if `spec` cannot be run on `backend`. */
export function validateVmSpec(spec: VmSpec, backend: VmmBackend): void {
  checkAbsolute(spec, 'kernel', spec.kernelPath);
  if (spec.initrdPath !== undefined) checkAbsolute(spec, 'initrd', spec.initrdPath);
  checkAbsolute(spec, 'run directory', spec.runDir);
  checkAbsolute(spec, 'control socket', spec.controlSocket);
  if (Buffer.byteLength(spec.controlSocket) > MAX_SOCKET_PATH_BYTES) {
    invalid(
      spec,
      `control socket path ${spec.controlSocket} is longer than ${MAX_SOCKET_PATH_BYTES} bytes (unix socket limit); use a shorter data directory`,
    );
  }
  if (!Number.isInteger(spec.cpus) || spec.cpus < 1)
    invalid(spec, `cpus must be a whole number >= 1, got ${spec.cpus}`);
  if (!Number.isInteger(spec.memoryMiB) || spec.memoryMiB < 1)
    invalid(spec, `memory must be a whole number of MiB >= 1, got ${spec.memoryMiB}`);

  if (spec.rootShare && spec.rootDisk)
    invalid(spec, 'it has both a root share and a root disk; a VM boots from one root');
  if (spec.rootDisk) {
    checkAbsolute(spec, 'root disk', spec.rootDisk.path);
    if (/[\0\n"\\]/.test(spec.rootDisk.path))
      invalid(
        spec,
        `root disk path ${JSON.stringify(spec.rootDisk.path)} has a quote, backslash or newline; rename it`,
      );
  }
  if (spec.rootShare) {
    checkTagSyntax(spec.rootShare.tag);
    checkAbsolute(spec, 'root share', spec.rootShare.hostPath);
  }
  // the same rules as when a share is added (shares:add), so an accepted share always boots
  validateShareLayout(spec.shares);
  const rootTag = spec.rootShare?.tag;
  if (spec.shares.some((s) => s.tag === rootTag))
    invalid(spec, `two shares use the tag "${rootTag}"; tags must be unique per VM`);
  if (spec.remoteShares?.length) {
    validateShareLayout([...spec.shares, ...spec.remoteShares]);
    const kind = spec.net?.mode ?? 'none';
    if (kind !== 'nat' && kind !== 'restricted')
      invalid(
        spec,
        `remote shares need the VM's network to be nat or restricted, but it is ${kind}; remove them (oklinux share rm)`,
      );
    if ((spec.net?.guestForwards?.length ?? 0) !== spec.remoteShares.length)
      invalid(spec, 'each remote share needs its relay forward (net.guestForwards)');
  }
  for (const share of spec.shares) {
    checkAbsolute(spec, `share "${share.tag}" host path`, share.hostPath);
    checkMountOptions(spec, backend, share.tag, share.readOnly, share.mountOptions);
  }
}

/** The guest's name for the root disk: the first virtio block device (the only one a VM has). */
export const ROOT_DISK_DEVICE = '/dev/vda';

/**
 * Kernel parameters that boot from the root disk. bldy (crosvm) appends `root=/dev/vdX ro|rw` itself for
 * `--block …,root`, so only the filesystem type is added there (see `bldyRootDiskParams`).
 */
export function diskRootParams(backend: VmmBackend, readOnly: boolean): string {
  const mode = readOnly ? 'ro' : 'rw';
  return backend === 'bldy' ? 'rootfstype=ext4' : `root=${ROOT_DISK_DEVICE} ${mode} rootfstype=ext4`;
}

/** What bldy appends to the command line itself for a root disk. */
export function bldyRootDiskParams(readOnly: boolean): string {
  return `root=${ROOT_DISK_DEVICE} ${readOnly ? 'ro' : 'rw'}`;
}

/**
 * Kernel command line groups: the spec's non-blank groups, then the root share's
 * parameters, then the network's `oklinux.net=` (when the spec has a network), then one
 * `oklinux.mount=` parameter per share. Throws INVALID_INPUT if the
 * joined line, plus `extra` (parameters the VMM adds itself), exceeds the kernel's limit.
 */
export function kernelParamGroups(spec: VmSpec, backend: VmmBackend, extra = ''): string[] {
  const groups = spec.params.map((p) => p.trim()).filter((p) => p.length > 0);
  if (spec.rootShare) groups.push(rootParams(backend, spec.rootShare.tag));
  if (spec.rootDisk) groups.push(diskRootParams(backend, spec.rootDisk.readOnly));
  if (spec.net) groups.push(netParam(spec.net));
  for (const share of spec.shares) groups.push(mountParam(share));
  (spec.remoteShares ?? []).forEach((r, i) => groups.push(remoteMountParam(r, i)));
  const bytes = Buffer.byteLength([...groups, extra].join(' ').trim());
  if (bytes > MAX_CMDLINE_BYTES) {
    invalid(
      spec,
      `the kernel command line would be ${bytes} bytes, over the kernel's ${MAX_CMDLINE_BYTES}; remove extra parameters or shares`,
    );
  }
  return groups;
}
