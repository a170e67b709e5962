/**
 * A local stand-in for okLinux's published world: a GitHub-shaped releases API
 * whose newest release carries a kernel as `arch/x86/boot/bzImage` in okLinux's
 * asset layout, and a manifest of the same shape as
 * resources/manifests/default.json (kernel from the latest release, a rootfs
 * tarball with a sha256Url).
 *
 * - `kernel: 'oklinux'` (the default): the okLinux-shaped test kernel
 *   (fixtures/oklinux-kernel.ts), 9p and virtio built in, and NO initrd: the
 *   default one-click path exactly as users get it.
 * - `kernel: 'debian'`: Debian's modular kernel, plus the initramfs that loads
 *   its 9p modules and switch_roots (for kernels that need modules).
 */
import fs from 'node:fs';
import path from 'node:path';
import { create } from 'tar';
import { buildInitramfs, buildRootDir, kernelPath } from '../fixtures/guest';
import { okKernelPath } from '../fixtures/oklinux-kernel';
import { sha256Hex, startTestServer, type TestServer } from './http';

/** Mount points a root may lack (alpine-make-rootfs drops empty directories). */
export const MOUNT_POINT_DIRS = ['dev', 'proc', 'sys', 'run', 'tmp'];

export interface RootlessWorld {
  server: TestServer;
  api: string;
  manifestUrl: string;
  /** A manifest whose rootfs .sha256 lies. */
  badManifestUrl: string;
  /** A manifest whose bundle boots the kernel without the 9p initramfs (a kernel without 9p). */
  no9pManifestUrl: string;
  /** A manifest whose rootfs has no /bin/sh. */
  noShellManifestUrl: string;
  /** A manifest (bundle "bare") whose rootfs has none of /dev, /proc, /sys, /run and /tmp. */
  bareManifestUrl: string;
  close(): Promise<void>;
}

async function tarGz(dir: string, out: string): Promise<Buffer> {
  await create({ gzip: true, file: out, cwd: dir, portable: true }, fs.readdirSync(dir));
  return fs.readFileSync(out);
}

export async function startRootlessWorld(
  work: string,
  opts: { kernel?: 'oklinux' | 'debian' } = {},
): Promise<RootlessWorld> {
  const debian = opts.kernel === 'debian';
  // a kernel without 9p for the no9p bundle: Debian's, whose 9p is in modules, with no initrd
  const modular = fs.readFileSync(kernelPath());
  const kernel = debian ? modular : fs.readFileSync(okKernelPath());
  const initrd = debian ? fs.readFileSync(buildInitramfs()) : null;

  const kdir = path.join(work, 'kernel-tree');
  fs.mkdirSync(path.join(kdir, 'arch/x86/boot'), { recursive: true });
  fs.writeFileSync(path.join(kdir, 'arch/x86/boot/bzImage'), kernel);
  const kernelTar = await tarGz(kdir, path.join(work, 'kernel.tar.gz'));

  const rdir = path.join(work, 'rootfs-tree');
  buildRootDir(rdir);
  fs.rmSync(path.join(rdir, 'sbin', 'oklinux-init')); // the app installs its own
  const rootfs = await tarGz(rdir, path.join(work, 'rootfs.tar.gz'));
  const ndir = path.join(work, 'noshell-tree');
  fs.mkdirSync(path.join(ndir, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(ndir, 'etc', 'motd'), 'no shell here\n');
  const noShell = await tarGz(ndir, path.join(work, 'noshell.tar.gz'));
  const bdir = path.join(work, 'bare-tree');
  buildRootDir(bdir);
  fs.rmSync(path.join(bdir, 'sbin', 'oklinux-init'));
  for (const d of MOUNT_POINT_DIRS) fs.rmSync(path.join(bdir, d), { recursive: true });
  const bare = await tarGz(bdir, path.join(work, 'bare.tar.gz'));

  const server = await startTestServer();
  const sha = 'f'.repeat(40);
  const rel = '6.1.0-test';
  const asset = `oklinux-kernel-x86_64-${rel}-${sha}.tar.gz`;
  const tag = `kernel-${rel}-${sha.slice(0, 7)}`;
  server.route(`/dl/${tag}/${asset}`, { body: kernelTar });
  server.route(`/dl/${tag}/${asset}.sha256`, { body: Buffer.from(`${sha256Hex(kernelTar)}  ${asset}\n`) });
  const releases = [
    {
      id: 1,
      tag_name: tag,
      name: tag,
      draft: false,
      prerelease: false,
      published_at: '2026-11-01T00:00:00Z',
      html_url: `${server.origin}/sevki/okLinux/releases/tag/${tag}`,
      assets: [
        { name: asset, size: kernelTar.length, browser_download_url: server.url(`/dl/${tag}/${asset}`) },
        { name: `${asset}.sha256`, size: 100, browser_download_url: server.url(`/dl/${tag}/${asset}.sha256`) },
      ],
    },
  ];
  server.route('/repos/sevki/okLinux/releases', { body: Buffer.from(JSON.stringify(releases)) });

  if (initrd) server.route('/files/initramfs.cpio.gz', { body: initrd });
  server.route('/files/vmlinuz', { body: modular });
  server.route('/files/rootfs.tar.gz', { body: rootfs });
  server.route('/files/rootfs.tar.gz.sha256', { body: Buffer.from(`${sha256Hex(rootfs)}  rootfs.tar.gz\n`) });
  server.route('/files/noshell.tar.gz', { body: noShell });
  server.route('/files/bare.tar.gz', { body: bare });
  server.route('/files/bare.tar.gz.sha256', { body: Buffer.from(`${sha256Hex(bare)}  bare.tar.gz\n`) });
  server.route('/bad/rootfs.tar.gz', { body: rootfs });
  server.route('/bad/rootfs.tar.gz.sha256', { body: Buffer.from(`${'0'.repeat(64)}  rootfs.tar.gz\n`) });

  const bundle = (name: string, artifacts: Record<string, unknown>) => ({
    name,
    version: '1',
    arch: 'x86_64',
    cmdline: 'console=ttyS0 quiet',
    // okLinux release kernels have virtio-mmio (QEMU microvm); Debian's modular one, published here as the
    // release, has not: its bundles say so, as a manifest may
    ...(debian ? { virtioMmio: false } : {}),
    artifacts,
  });
  // like resources/manifests/default.json for an okLinux kernel: no initrd at all
  const initrdArt = initrd
    ? { initrd: { url: '/files/initramfs.cpio.gz', sha256: sha256Hex(initrd), size: initrd.length } }
    : {};
  const manifest = (bundles: unknown[]) => Buffer.from(JSON.stringify({ schema: 1, bundles }));
  server.route('/default.json', {
    body: manifest([
      bundle('oklinux', {
        kernel: { release: 'latest' },
        ...initrdArt,
        rootfs: { url: '/files/rootfs.tar.gz', sha256Url: '/files/rootfs.tar.gz.sha256', format: 'tar.gz' },
      }),
    ]),
  });
  server.route('/bad.json', {
    body: manifest([
      bundle('lying-rootfs', {
        kernel: { release: 'latest' },
        rootfs: { url: '/bad/rootfs.tar.gz', sha256Url: '/bad/rootfs.tar.gz.sha256', format: 'tar.gz' },
      }),
    ]),
  });
  server.route('/no9p.json', {
    body: manifest([
      bundle('no9p', {
        kernel: { url: '/files/vmlinuz', sha256: sha256Hex(modular) },
        rootfs: { url: '/files/rootfs.tar.gz', sha256Url: '/files/rootfs.tar.gz.sha256', format: 'tar.gz' },
      }),
    ]),
  });
  server.route('/noshell.json', {
    body: manifest([
      bundle('noshell', {
        kernel: { release: 'latest' },
        ...initrdArt,
        rootfs: { url: '/files/noshell.tar.gz', sha256: sha256Hex(noShell), format: 'tar.gz' },
      }),
    ]),
  });
  server.route('/bare.json', {
    body: manifest([
      bundle('bare', {
        kernel: { release: 'latest' },
        ...initrdArt,
        rootfs: { url: '/files/bare.tar.gz', sha256Url: '/files/bare.tar.gz.sha256', format: 'tar.gz' },
      }),
    ]),
  });
  return {
    server,
    api: server.origin,
    manifestUrl: server.url('/default.json'),
    badManifestUrl: server.url('/bad.json'),
    no9pManifestUrl: server.url('/no9p.json'),
    noShellManifestUrl: server.url('/noshell.json'),
    bareManifestUrl: server.url('/bare.json'),
    close: () => server.close(),
  };
}
