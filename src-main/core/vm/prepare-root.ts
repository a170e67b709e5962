/**
 * Filling a VM's root before it starts. A 9p root: the root the VM names (`--root-dir`), else the one okLinux
 * makes under the data directory when the image has a rootfs tarball. A disk root: the VM's disk (its own
 * copy, or a user's image booted in place with `--rw`), else the VM's own copy of the image's ext4 rootfs,
 * made on first start. The root is checked (realpath, its place) each time; the rootfs is hashed again
 * just before it fills a new root.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { EngineContext } from '@core/context';
import { OkError } from '@core/errors';
import { checkPinned } from '@core/images/integrity';
import { fstabLine } from '@core/shares/mount';
import { homeDir } from '@core/shares/host';
import type { ShareSpec } from '@core/vmm/types';
import type { VmRow } from '@core/store';
import type { BootImage, VmRoot } from './plan';
import { rootOf } from './plan';
import { checkedRoot, prepareRootDir } from './root';
import { diskFromRootfs, isDiskFormat, recheckRootDisk } from './disk';
import { prepareRootDisk } from './disk-init';

export function rootPreparer(
  ctx: EngineContext,
  resourcesDir: string,
): (vm: VmRow, image: BootImage, shares: ShareSpec[]) => Promise<VmRoot | null> {
  const initScript = path.join(resourcesDir, 'guest', 'oklinux-init');
  return async (vm, image, shares) => {
    const planned = rootOf(ctx, vm, image);
    if (!planned) return null;
    if (planned.kind === 'disk') {
      const disk = await diskRoot(ctx, vm, image, planned.path);
      await prepareRootDisk({ vm: vm.name, disk, initScript, fstabLines: shares.map(fstabLine), env: ctx.env });
      if (!vm.rootDisk) ctx.store.vms.update(vm.name, { rootDisk: disk });
      return { kind: 'disk', path: disk };
    }
    const managed = ctx.paths.rootDir(vm.name);
    const root = await checkedRoot(planned.path, managed, { dataDir: ctx.paths.root, home: homeDir(ctx.env) });
    // the tarball is read only to fill a new root: hash it again just before
    if (image.rootfsPin && !fs.existsSync(root)) await checkPinned(image.rootfsPin);
    await prepareRootDir({
      vm: vm.name,
      root,
      tarball: image.rootfs ?? null,
      initScript,
      fstabLines: shares.map(fstabLine),
    });
    if (!vm.rootDir) ctx.store.vms.update(vm.name, { rootDir: root });
    return { kind: 'dir', path: root };
  };
}

/**
 * The disk a VM boots, checked: the VM's own (inside its folder, no link in the way), made from the image's
 * rootfs when missing; or a user's image (`--rw`), still its own realpath, a regular file outside the data
 * directory.
 */
async function diskRoot(ctx: EngineContext, vm: VmRow, image: BootImage, disk: string): Promise<string> {
  const own = ctx.paths.rootDisk(vm.name);
  if (disk !== own) {
    // debugfs must never write into a filesystem a running guest has mounted
    const user = ctx.store.vms
      .list()
      .find((v) => v.name !== vm.name && v.rootDisk === disk && v.state !== 'stopped' && v.state !== 'crashed');
    if (user) {
      throw new OkError(
        'CONFLICT',
        `The root disk ${disk} of "${vm.name}" is in use by the VM "${user.name}" (${user.state}); stop it first.`,
      );
    }
    return recheckRootDisk(disk, { dataDir: ctx.paths.root, ownDisk: own });
  }
  for (const p of [path.dirname(own), own]) {
    if (fs.lstatSync(p, { throwIfNoEntry: false })?.isSymbolicLink()) {
      throw new OkError(
        'DATA_DIR',
        `${p} is a link; okLinux keeps VM root disks as plain files in its data directory and does not follow it. Remove the link.`,
      );
    }
  }
  if (fs.existsSync(own)) return own;
  if (!image.rootfs || !isDiskFormat(image.rootfsFormat)) {
    throw new OkError(
      'NOT_FOUND',
      `The root disk ${own} of "${vm.name}" is gone, and its image has no ext4 rootfs to make it again. ` +
        `Remove the VM ("oklinux rm ${vm.name}") and create it again.`,
    );
  }
  // the image is read only to make the VM's copy: hash it again just before
  if (image.rootfsPin) await checkPinned(image.rootfsPin);
  await diskFromRootfs(image.rootfs, image.rootfsFormat, own, { vm: vm.name, env: ctx.env });
  return own;
}
