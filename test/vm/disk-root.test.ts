/**
 * ext4 root disks, booted for real: the okLinux-shaped test kernel (virtio-blk, ext4 and 9p built in, no
 * initrd) under QEMU TCG, from a bundle that has only a kernel.
 * - a disk built here with `mkfs.ext4 -d` from the test root, as `--root-disk FILE`: the VM boots its own copy
 *   (root=/dev/vda, ext4) with a share mounted, and FILE stays byte-identical;
 * - the same with `--rw`: the VM boots FILE itself, and what the guest wrote is in it;
 * - the debootstrap root (the cached one) made into a disk with `oklinux root to-disk`;
 * - bad `--root-disk` inputs, refused with what to do.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli';
import { sha256Hex } from '../helpers/http';
import { tmpDir } from '../helpers/tmp';
import { processesMentioning, Run, vmEnv } from '../helpers/vm';
import { MOUNT_POINT_DIRS, startRootlessWorld, type RootlessWorld } from '../helpers/rootless';
import { buildRootDir } from '../fixtures/guest';
import { copyDebootstrapRoot } from '../fixtures/debootstrap';
import { diskTool } from '@core/vm/disk';

const t = tmpDir('oklinux-disk-root-');
const home = path.join(t.dir, 'home');
const userDisk = path.join(t.dir, 'my disk.img');
const shareDir = path.join(t.dir, 'share');
let world: RootlessWorld;
let env: NodeJS.ProcessEnv;
const cli = (...args: string[]) => runCli(args, { env, timeoutMs: 600_000 });

const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** A file's text inside an ext4 image (debugfs dump), or null when it is not there. */
function readIn(img: string, p: string): string | null {
  const out = path.join(t.dir, 'dump.out');
  fs.rmSync(out, { force: true });
  spawnSync(diskTool('debugfs'), ['-R', `dump "${p}" "${out}"`, img]);
  return fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : null;
}

function mkfs(dir: string, img: string, size: string): void {
  const r = spawnSync(diskTool('mkfs.ext4'), ['-q', '-F', '-d', dir, img, size], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mkfs.ext4 -d ${dir} ${img} failed: ${r.stderr}`);
}

beforeAll(async () => {
  world = await startRootlessWorld(path.join(t.dir, 'world'));
  // a bundle with only a kernel (the newest release): the root comes from --root-disk
  world.server.route('/kernel-only.json', {
    body: Buffer.from(
      JSON.stringify({
        schema: 1,
        bundles: [{ name: 'kernel-only', version: '1', arch: 'x86_64', artifacts: { kernel: { release: 'latest' } } }],
      }),
    ),
  });
  env = { ...vmEnv(home), OKLINUX_GITHUB_API: world.api, OKLINUX_DEFAULT_MANIFEST: world.manifestUrl };
  expect((await cli('catalog', 'add', world.server.url('/kernel-only.json'))).code).toBe(0);
  // the test root, with no init of okLinux's and none of the mount points: the app writes them in
  const tree = path.join(t.dir, 'tree');
  buildRootDir(tree);
  fs.rmSync(path.join(tree, 'sbin', 'oklinux-init'));
  for (const d of MOUNT_POINT_DIRS) fs.rmSync(path.join(tree, d), { recursive: true });
  mkfs(tree, userDisk, '64M');
  fs.mkdirSync(shareDir);
  fs.writeFileSync(path.join(shareDir, 'hello.txt'), 'from the host\n');
  // a bundle whose rootfs is that image, gzip-compressed
  const gz = gzipSync(fs.readFileSync(userDisk));
  world.server.route('/files/root.ext4.gz', { body: gz });
  world.server.route('/disk-bundle.json', {
    body: Buffer.from(
      JSON.stringify({
        schema: 1,
        bundles: [
          {
            name: 'disk-bundle',
            version: '1',
            arch: 'x86_64',
            artifacts: {
              kernel: { release: 'latest' },
              rootfs: { url: '/files/root.ext4.gz', sha256: sha256Hex(gz), format: 'ext4.gz' },
            },
          },
        ],
      }),
    ),
  });
  expect((await cli('catalog', 'add', world.server.url('/disk-bundle.json'))).code).toBe(0);
});

afterAll(async () => {
  for (const p of processesMentioning(home)) process.kill(p.pid, 'SIGKILL');
  await world?.close();
  t.cleanup();
});

describe('ext4 root disks (okLinux-shaped kernel, QEMU TCG, a kernel-only bundle)', () => {
  it('--root-disk FILE boots its own copy from /dev/vda with a share mounted; FILE stays byte-identical', async () => {
    const before = sha256(userDisk);
    const create = await cli(
      'create',
      'disk',
      '--image',
      'kernel-only',
      '--root-disk',
      userDisk,
      '--accel',
      'tcg',
      '--json',
    );
    expect(create.code, create.stderr).toBe(0);
    const own = path.join(home, 'vms', 'disk', 'root.img');
    expect(JSON.parse(create.stdout)).toMatchObject({
      rootDisk: own,
      rootDiskSource: userDisk,
      rootDiskInPlace: false,
    });
    expect((await cli('share', 'add', 'disk', shareDir, '--tag', 'host')).code).toBe(0);
    expect((await cli('pull', 'kernel-only')).code).toBe(0); // a dry run pulls nothing
    const plan = await cli('start', 'disk', '--dry-run', '--json');
    expect(plan.code, plan.stderr).toBe(0);
    const argv = JSON.parse(plan.stdout) as string[];
    expect(argv).toContain(`file=${own},format=raw,if=none,id=root`);
    // a kernel from an okLinux release boots on QEMU microvm (virtio-mmio) where the guest can keep time (see
    // vmm/machine.ts; test/vm/microvm.test.ts covers that choice), its disk then a virtio-blk-device
    const microvm = argv[argv.indexOf('-M') + 1] === 'microvm';
    expect(argv).toContain(microvm ? 'virtio-blk-device,drive=root' : 'virtio-blk-pci,drive=root');
    expect(argv[argv.indexOf('-append') + 1]).toMatch(/ root=\/dev\/vda rw rootfstype=ext4 /);

    const run = new Run(env, ['disk']);
    await run.waitFor(/oklinux-init: ready[\s\S]*# /);
    expect(run.out).toMatch(/oklinux-init: mounted host on \/mnt\/host\r*\n/);
    await run.type('grep " / " /proc/mounts', /\/dev\/(vda|root) \/ ext4 rw/);
    await run.type('stat -c "%a" /tmp', /\n1777\r*\n/);
    await run.type('cat /mnt/host/hello.txt', /from the host/);
    await run.type('echo from-guest > /mnt/host/out.txt && echo SHARE-""OK', /SHARE-OK/);
    await run.type('echo kept > /root/made-on-disk && sync && echo DISK-""OK', /DISK-OK/);
    run.child.stdin.write('poweroff\n');
    expect(await run.exited, run.out.slice(-2000)).toBe(0);
    expect(fs.readFileSync(path.join(shareDir, 'out.txt'), 'utf8')).toBe('from-guest\n');
    // the guest wrote to the VM's copy, and the user's file is as it was
    expect(readIn(own, '/root/made-on-disk')).toBe('kept\n');
    expect(readIn(own, '/etc/fstab')).toMatch(/^host \/mnt\/host 9p trans=virtio,[^\n]*,_netdev,nofail 0 0$/m);
    expect(sha256(userDisk)).toBe(before);
    expect(readIn(userDisk, '/sbin/oklinux-init')).toBeNull();
    const vm = JSON.parse((await cli('ls', '--json')).stdout).find((v: { name: string }) => v.name === 'disk');
    expect(vm).toMatchObject({ state: 'stopped', rootDisk: own, rootDiskBytes: { size: 64 * 1024 * 1024 } });
    expect(vm.rootDiskBytes.allocated).toBeLessThan(64 * 1024 * 1024); // a sparse copy
  });

  it('--root-disk FILE --rw boots FILE itself, and what the guest wrote is in it', async () => {
    const mine = path.join(t.dir, 'rw.img');
    fs.copyFileSync(userDisk, mine);
    const create = await cli(
      'create',
      'rw',
      '--image',
      'kernel-only',
      '--root-disk',
      mine,
      '--rw',
      '--accel',
      'tcg',
      '--json',
    );
    expect(create.code, create.stderr).toBe(0);
    expect(JSON.parse(create.stdout)).toMatchObject({ rootDisk: mine, rootDiskSource: null, rootDiskInPlace: true });
    expect(fs.existsSync(path.join(home, 'vms', 'rw', 'root.img'))).toBe(false);
    const run = new Run(env, ['rw']);
    await run.waitFor(/oklinux-init: ready[\s\S]*# /);
    await run.type('echo in-place > /root/rw-file && sync && echo RW-""OK', /RW-OK/);
    run.child.stdin.write('poweroff\n');
    expect(await run.exited, run.out.slice(-2000)).toBe(0);
    expect(readIn(mine, '/root/rw-file')).toBe('in-place\n');
    expect(readIn(mine, '/sbin/oklinux-init')).toBe(fs.readFileSync('resources/guest/oklinux-init', 'utf8'));
    // one VM at a time changes a file in place
    const twice = await cli('create', 'rw2', '--image', 'kernel-only', '--root-disk', mine, '--rw');
    expect(twice.code).not.toBe(0);
    expect(twice.stderr).toMatch(/is already the root disk of the VM "rw", which changes it; leave out --rw/);
    // removing the VM never deletes the user's file
    expect((await cli('rm', 'rw', '--delete-root')).code).toBe(0);
    expect(fs.existsSync(mine)).toBe(true);
  });

  it('oklinux root to-disk turns the debootstrap root into a disk that boots with a share mounted', async () => {
    const root = path.join(t.dir, 'debian root');
    await copyDebootstrapRoot(root);
    expect((await cli('create', 'deb', '--image', 'kernel-only', '--root-dir', root, '--accel', 'tcg')).code).toBe(0);
    expect((await cli('share', 'add', 'deb', shareDir, '--tag', 'host')).code).toBe(0);
    const started = Date.now();
    const conv = await cli('root', 'to-disk', 'deb', '--json');
    const secs = (Date.now() - started) / 1000;
    expect(conv.code, conv.stderr).toBe(0);
    const vm = JSON.parse(conv.stdout);
    const disk = path.join(home, 'vms', 'deb', 'root.img');
    expect(vm).toMatchObject({ state: 'stopped', rootDisk: disk, rootDiskSource: root, rootDir: null });
    console.log(
      `root to-disk (debootstrap minbase): ${secs.toFixed(1)} s, disk ${(vm.rootDiskBytes.size / 2 ** 20).toFixed(0)} MiB, ` +
        `${(vm.rootDiskBytes.allocated / 2 ** 20).toFixed(0)} MiB on the host`,
    );
    expect(fs.existsSync(path.join(root, 'etc', 'debian_version'))).toBe(true); // the folder is kept
    const run = new Run(env, ['deb']);
    await run.waitFor(/oklinux-init: ready[\s\S]*# /, 0, 180_000);
    expect(run.out).toMatch(/oklinux-init: mounted host on \/mnt\/host\r*\n/);
    await run.type('grep " / " /proc/mounts', /\/dev\/(vda|root) \/ ext4 rw/);
    await run.type('echo "debian=$(cat /etc/debian_version)"', /debian=12\.\d+\r*\n/);
    await run.type('echo deb > /mnt/host/deb.txt && echo DEB-""OK', /DEB-OK/);
    expect(fs.readFileSync(path.join(shareDir, 'deb.txt'), 'utf8')).toBe('deb\n');
    // a clean stop: this root has no busybox and no poweroff program, and the okLinux-shaped kernel no sysrq, so
    // oklinux-init powers off through perl's reboot(2) (perl-base is in every Debian root). Bounded like
    // debootstrap.test.ts's stop (a Debian userland on a loaded machine), under the 30 s grace period.
    const asked = Date.now();
    const stop = await cli('stop', 'deb');
    const stopSecs = (Date.now() - asked) / 1000;
    console.log(`stop to stopped (Debian minbase on an ext4 root, oklinux stop): ${stopSecs.toFixed(2)} s`);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stopSecs).toBeLessThan(25);
    const log = (await cli('logs', 'deb')).stdout;
    expect(log).toMatch(/oklinux-init: poweroff[\r\n]+[^]*reboot: Power down/);
    expect(log).not.toContain('oklinux-init: poweroff failed');
    await run.exited;
    // converting again is refused: it boots from its disk already
    const again = await cli('root', 'to-disk', 'deb');
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/already boots from the root disk/);
  }, 420_000); // a Debian userland under TCG: 19 s on a quiet machine, over 180 s beside another VM suite

  it('a bundle whose rootfs is an ext4.gz image: each VM boots its own sparse copy, made at its first start', async () => {
    expect((await cli('create', 'bun', '--image', 'disk-bundle', '--accel', 'tcg')).code).toBe(0);
    const own = path.join(home, 'vms', 'bun', 'root.img');
    expect(fs.existsSync(own)).toBe(false);
    const run = new Run(env, ['bun']);
    await run.waitFor(/oklinux-init: ready[\s\S]*# /);
    await run.type('grep " / " /proc/mounts', /\/dev\/(vda|root) \/ ext4 rw/);
    run.child.stdin.write('poweroff\n');
    expect(await run.exited, run.out.slice(-2000)).toBe(0);
    const vm = JSON.parse((await cli('ls', '--json')).stdout).find((v: { name: string }) => v.name === 'bun');
    expect(vm).toMatchObject({ rootDisk: own, rootDiskSource: null, rootDiskInPlace: false });
    expect(vm.rootDiskBytes.size).toBe(64 * 1024 * 1024);
    expect(vm.rootDiskBytes.allocated).toBeLessThan(32 * 1024 * 1024);
    expect((await cli('rm', 'bun', '--delete-root')).code).toBe(0);
  });

  it('refuses bad --root-disk inputs, naming the problem and the fix', async () => {
    const bad = async (file: string, re: RegExp, ...more: string[]) => {
      const r = await cli(
        'create',
        `bad${Math.floor(Math.random() * 1e6)}`,
        '--image',
        'kernel-only',
        '--root-disk',
        file,
        ...more,
      );
      expect(r.code, r.stdout).not.toBe(0);
      expect(r.stderr).toMatch(re);
    };
    await bad(path.join(t.dir, 'nope.img'), /does not exist\. Give an ext4 image file/);
    await bad(shareDir, /is a directory\. Give an ext4 image file, or use --root-dir/);
    const junk = path.join(t.dir, 'junk.img');
    fs.writeFileSync(junk, Buffer.alloc(1 << 20, 1));
    await bad(junk, /is not an ext4 image .*mkfs\.ext4 -d/);
    // a file in the data directory that is not the VM's own
    await bad(
      path.join(home, 'vms', 'disk', 'root.img'),
      /is inside the okLinux data directory .*Copy it out of there first/,
    );
    await bad(userDisk, /give --root-dir or --root-disk, not both/i, '--root-dir', shareDir);
    const r = await cli('create', 'norw', '--image', 'kernel-only', '--rw');
    expect(r.stderr).toMatch(/--rw applies to --root-disk FILE/);
    expect(
      JSON.parse((await cli('ls', '--json')).stdout)
        .map((v: { name: string }) => v.name)
        .sort(),
    ).toEqual(['deb', 'disk']);
  });
});
