/**
 * oklinux-init on the okLinux-shaped kernel (no initrd) with a 9p root that has none of the mount
 * points /dev, /proc, /sys, /run and /tmp, as some rootfs tarballs ship (alpine-make-rootfs drops
 * empty directories). QEMU is driven directly, so nothing but oklinux-init can make them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRootDir } from '../fixtures/guest';
import { okKernelPath } from '../fixtures/oklinux-kernel';
import { Guest } from '../fixtures/qemu';
import { tmpDir } from '../helpers/tmp';

const MOUNT_POINTS = ['dev', 'proc', 'sys', 'run', 'tmp'];
const t = tmpDir('oklinux-bare-root-');
let kernel: string;

beforeAll(() => {
  kernel = okKernelPath();
});
afterAll(() => t.cleanup());

describe('a root without mount points, booted by the okLinux-shaped kernel', () => {
  it('reaches the prompt: oklinux-init makes them before any redirect, and leaves no stray /dev/null', async () => {
    const root = path.join(t.dir, 'root');
    buildRootDir(root);
    for (const d of MOUNT_POINTS) fs.rmSync(path.join(root, d), { recursive: true });
    const guest = new Guest({
      kernel,
      append:
        'panic=-1 root=okroot rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=131072,cache=mmap rw ' +
        'init=/sbin/oklinux-init oklinux.hostname=bare',
      shares: [{ tag: 'okroot', path: root }],
    });
    try {
      // the premise: the kernel found no /dev to mount devtmpfs on
      await guest.waitFor(/devtmpfs: error mounting -2\n/);
      const ready = await guest.waitFor(/oklinux-init: ready\n[^]*bare:\/root# /);
      const mark = ready.index + ready[0].length;
      guest.write('echo "$((6 * 7))-bare"; [ -c /dev/null ] && [ -c /dev/console ] && echo devs-ok; ');
      guest.write('grep -c " /tmp tmpfs " /proc/mounts\n');
      await guest.waitFor(/\n42-bare\ndevs-ok\n1\n/, { from: mark });
      guest.write('poweroff\n');
      await guest.waitFor(/oklinux-init: poweroff\n/, { from: mark });
      expect(await guest.exited, guest.describe()).toEqual({ code: 0, signal: null });
    } finally {
      guest.kill();
    }
    for (const d of MOUNT_POINTS) expect(fs.lstatSync(path.join(root, d)).isDirectory(), d).toBe(true);
    // nothing was written into the directories before the kernel filesystems were mounted over them
    for (const d of MOUNT_POINTS) expect(fs.readdirSync(path.join(root, d)), d).toEqual([]);
  });
});
