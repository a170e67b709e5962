/**
 * "Rootless" okLinux, one click, exactly the default path: from an empty data
 * directory, `oklinux run` pulls the newest kernel release (the okLinux-shaped
 * test kernel: 9p, virtio and devtmpfs built in, no modules) and the default
 * rootfs (checked by its sha256Url), fills the VM's 9p root, boots it under
 * QEMU TCG with NO initrd, and leaves a shell on the console.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli';
import { tmpDir } from '../helpers/tmp';
import { processesMentioning, Run, vmEnv } from '../helpers/vm';
import { MOUNT_POINT_DIRS, startRootlessWorld, type RootlessWorld } from '../helpers/rootless';

const t = tmpDir('oklinux-rootless-');
const home = path.join(t.dir, 'home');
let world: RootlessWorld;
let env: NodeJS.ProcessEnv;
const cli = (...args: string[]) => runCli(args, { env });
const rwDir = path.join(t.dir, 'rw share');
const roDir = path.join(t.dir, 'ro-share');

beforeAll(async () => {
  world = await startRootlessWorld(path.join(t.dir, 'world'));
  env = { ...vmEnv(home), OKLINUX_GITHUB_API: world.api, OKLINUX_DEFAULT_MANIFEST: world.manifestUrl };
  fs.mkdirSync(rwDir);
  fs.mkdirSync(roDir);
  fs.writeFileSync(path.join(roDir, 'hello.txt'), 'from the host\n');
});

afterAll(async () => {
  for (const p of processesMentioning(home)) process.kill(p.pid, 'SIGKILL');
  await world?.close();
  t.cleanup();
});

describe('oklinux run from an empty data directory', () => {
  it('pulls, fills the 9p root, boots to a shell; echo round-trips; poweroff ends as stopped', async () => {
    expect(fs.existsSync(home)).toBe(false);
    const run = new Run(env, ['--accel', 'tcg']);
    await run.waitFor(/oklinux-init: ready[\s\S]*# /);
    // no initrd: the kernel mounts the 9p root itself
    expect(run.out).not.toContain('oklinux-init: switch_root');
    // the signed launch plan the supervisor ran
    const signed = JSON.parse(fs.readFileSync(path.join(home, 'run', '1', 'launch.json'), 'utf8')) as { plan: string };
    const launch = JSON.parse(signed.plan) as { args: string[] };
    expect(launch.args).toContain('-kernel');
    expect(launch.args).not.toContain('-initrd');
    await run.type('echo round-""trip-$((6*7))', /round-trip-42/);
    await run.type('grep " / " /proc/mounts', /oklinux-root \/ 9p [^\n]*trans=virtio/);
    await run.type('hostname', /\noklinux\r*\n/);
    await run.type('echo kept > /root/made-in-guest && echo MADE-""OK', /MADE-OK/);
    run.child.stdin.write('poweroff\n');
    expect(await run.exited).toBe(0);
    const vm = JSON.parse((await cli('ls', '--json')).stdout)[0];
    expect(vm).toMatchObject({ name: 'oklinux', state: 'stopped', image: 'oklinux' });
    // the root and the file the guest made are the host user's
    const made = path.join(home, 'vms', 'oklinux', 'root', 'root', 'made-in-guest');
    expect(fs.readFileSync(made, 'utf8')).toBe('kept\n');
    expect(fs.statSync(made).uid).toBe(process.getuid!());
    expect(fs.existsSync(path.join(home, 'vms', 'oklinux', 'root', 'sbin', 'oklinux-init'))).toBe(true);
  });

  it('mounts shares from oklinux.mount= (rw and ro honoured), writes them to the root fstab, and keeps the root across restarts', async () => {
    expect((await cli('share', 'add', 'oklinux', rwDir, '--tag', 'rw')).code).toBe(0);
    expect((await cli('share', 'add', 'oklinux', roDir, '--ro', '--tag', 'ro')).code).toBe(0);
    const run = new Run(env, ['--accel', 'tcg']);
    await run.waitFor(/oklinux-init: ready[\s\S]*# /);
    expect(run.out).toMatch(/oklinux-init: mounted rw on \/mnt\/rw/);
    expect(run.out).toMatch(/oklinux-init: mounted ro on \/mnt\/ro/);
    await run.type('cat /root/made-in-guest', /\nkept\r*\n/);
    await run.type('cat /mnt/ro/hello.txt', /from the host/);
    await run.type('echo guest > /mnt/rw/out.txt && echo RW-""OK', /RW-OK/);
    await run.type('touch /mnt/ro/x 2>/dev/null && echo RO-""BROKEN || echo RO-""HELD', /RO-(HELD|BROKEN)/);
    expect(run.out).toMatch(/RO-HELD/);
    expect(run.out).not.toMatch(/RO-BROKEN/);
    await run.type('grep _netdev /etc/fstab', /ro \/mnt\/ro 9p [^\n]*,ro,_netdev,nofail 0 0/);
    run.child.stdin.write('poweroff\n');
    expect(await run.exited).toBe(0);
    expect(fs.readFileSync(path.join(rwDir, 'out.txt'), 'utf8')).toBe('guest\n');
    // a file created in the guest root is readable and deletable by the host user
    const made = path.join(home, 'vms', 'oklinux', 'root', 'root', 'made-in-guest');
    fs.unlinkSync(made);
    expect(fs.existsSync(made)).toBe(false);
  });

  it('uses sha256Url and catches a rootfs whose published digest does not match', async () => {
    expect((await cli('catalog', 'add', world.badManifestUrl)).code).toBe(0);
    const r = await cli('pull', 'lying-rootfs');
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/rootfs\.tar\.gz/);
    expect(r.stderr).toContain('0'.repeat(64));
    const images = JSON.parse((await cli('images', '--json')).stdout) as {
      entries: { ref: string; installed: boolean }[];
    };
    expect(images.entries.find((e) => e.ref === 'lying-rootfs')?.installed).toBe(false);
    expect(world.server.requestsTo('/bad/rootfs.tar.gz.sha256').length).toBeGreaterThan(0);
  });

  it('refuses a rootfs with no /bin/sh before booting', async () => {
    expect((await cli('catalog', 'add', world.noShellManifestUrl)).code).toBe(0);
    const r = await cli('run', 'bare', '--image', 'noshell', '--accel', 'tcg');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/has no \/bin\/sh, so it cannot boot to a shell/);
    expect(
      JSON.parse((await cli('ls', '--json')).stdout).find((v: { name: string }) => v.name === 'bare'),
    ).toMatchObject({
      state: 'stopped',
      pid: null,
    });
  });

  it('explains a kernel without 9p: the root mount fails and the panic line is shown in plain language', async () => {
    expect((await cli('catalog', 'add', world.no9pManifestUrl)).code).toBe(0);
    const r = await cli('run', 'no9p', '--image', 'no9p', '--accel', 'tcg');
    expect(r.code, r.stdout + r.stderr).toBe(7);
    expect(r.stderr).toMatch(/crashed\. The guest kernel could not mount its root filesystem/);
    const vm = JSON.parse((await cli('ls', '--json')).stdout).find((v: { name: string }) => v.name === 'no9p');
    expect(vm.state).toBe('crashed');
    expect(vm.lastError).toMatch(/Kernel panic - not syncing: VFS: Unable to mount root fs/);
  });

  it('boots a rootfs with none of /dev, /proc, /sys, /run and /tmp: the app makes them, the prompt comes', async () => {
    expect((await cli('catalog', 'add', world.bareManifestUrl)).code).toBe(0);
    const run = new Run(env, ['bare-root', '--image', 'bare', '--accel', 'tcg']);
    await run.waitFor(/oklinux-init: ready[\s\S]*# /);
    await run.type('echo bare-""ok-$((6*7))', /bare-ok-42/);
    run.child.stdin.write('poweroff\n');
    expect(await run.exited).toBe(0);
    const root = path.join(home, 'vms', 'bare-root', 'root');
    for (const d of MOUNT_POINT_DIRS) expect(fs.lstatSync(path.join(root, d)).isDirectory(), d).toBe(true);
    expect(fs.statSync(path.join(root, 'tmp')).mode & 0o7777).toBe(0o1777);
  });

  it('asks before deleting a VM root: refused without a choice off a terminal, kept with --keep-root', async () => {
    const root = path.join(home, 'vms', 'oklinux', 'root');
    const ask = await cli('rm', 'oklinux');
    expect(ask.code).toBe(2);
    expect(ask.stderr).toContain(`--keep-root to keep it, or --delete-root`);
    const kept = await cli('rm', 'oklinux', '--keep-root');
    expect(kept.code).toBe(0);
    expect(kept.stdout).toContain(`its root directory is kept at ${root}`);
    expect(fs.existsSync(path.join(root, 'bin', 'busybox'))).toBe(true);
    expect(JSON.parse((await cli('ls', '--json')).stdout).map((v: { name: string }) => v.name)).not.toContain(
      'oklinux',
    );
    // a chosen root inside the data directory could be deleted with the VM: refused
    const inside = path.join(home, 'vms', 'mine');
    fs.mkdirSync(inside, { recursive: true });
    const refused = await cli('create', 'mine', '--image', 'oklinux', '--root-dir', inside);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('is inside the okLinux data directory');
  });
});
