/**
 * Filling a VM's 9p root before it starts: the root the VM names (`--root-dir`), else the one okLinux
 * makes under the data directory when the image has a rootfs. The root is checked (realpath, its
 * place) each time; the rootfs tarball is hashed again just before it fills a new root.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { EngineContext } from '@core/context';
import { checkPinned } from '@core/images/integrity';
import { fstabLine } from '@core/shares/mount';
import { homeDir } from '@core/shares/host';
import type { ShareSpec } from '@core/vmm/types';
import type { VmRow } from '@core/store';
import type { BootImage } from './manager';
import { checkedRoot, prepareRootDir } from './root';

export function rootPreparer(
  ctx: EngineContext,
  resourcesDir: string,
): (vm: VmRow, image: BootImage, shares: ShareSpec[]) => Promise<string | null> {
  return async (vm, image, shares) => {
    const managed = ctx.paths.rootDir(vm.name);
    const chosen = vm.rootDir ?? (image.rootfs ? managed : null);
    if (!chosen) return null;
    const root = await checkedRoot(chosen, managed, { dataDir: ctx.paths.root, home: homeDir(ctx.env) });
    // the tarball is read only to fill a new root: hash it again just before
    if (image.rootfsPin && !fs.existsSync(root)) await checkPinned(image.rootfsPin);
    await prepareRootDir({
      vm: vm.name,
      root,
      tarball: image.rootfs ?? null,
      initScript: path.join(resourcesDir, 'guest', 'oklinux-init'),
      fstabLines: shares.map(fstabLine),
    });
    if (!vm.rootDir) ctx.store.vms.update(vm.name, { rootDir: root });
    return root;
  };
}
