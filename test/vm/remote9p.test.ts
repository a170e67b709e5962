/**
 * Remote 9p shares against real parts: diod (a real 9P2000.L server) on 127.0.0.1, and QEMU (TCG)
 * booting the okLinux-shaped test kernel (NET_9P_FD built in) with the bundle's busybox root, through
 * the CLI and the engine. The VMs are `restricted`: no guest traffic leaves the VM except through the
 * supervisor's relay (QEMU guestfwd -> relay client -> unix socket -> TCP to 127.0.0.1), so a server on
 * the host's loopback is reached with nothing else open. No name is looked up.
 * Every guest command is waited for by its completion marker (helpers/marker.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Vm } from '@contract';
import { Share } from '@contract';
import { Engine } from '@core/engine';
import { runCli } from '../helpers/cli';
import { tmpDir } from '../helpers/tmp';
import { startDiod, type Diod } from '../helpers/diod';
import { ConsoleTap, processesMentioning, serveTestBundle, vmEnv, TEST_BUNDLE, type BundleServer } from '../helpers/vm';

const t = tmpDir('oklinux-r9p-');
const home = path.join(t.dir, 'home');
const env = vmEnv(home);
const cli = (...args: string[]) => runCli(args, { env });
const rwDir = path.join(t.dir, 'rw-export');
const roDir = path.join(t.dir, 'ro-export');
let bundle: BundleServer;
let rw: Diod;
let ro: Diod;

beforeAll(async () => {
  // Linux's 9p client attaches first as "nobody" (n_uname -1; later attaches carry each guest user's
  // uid), and diod checks that user's access: the path to an export must be traversable by others, as
  // on a real server, not only by the owner of the test's private temp folder
  fs.chmodSync(t.dir, 0o755);
  fs.mkdirSync(rwDir);
  fs.mkdirSync(roDir);
  fs.writeFileSync(path.join(rwDir, 'hello.txt'), 'written on the host\n');
  fs.writeFileSync(path.join(roDir, 'keep.txt'), 'read-only on the guest\n');
  bundle = await serveTestBundle();
  rw = await startDiod(rwDir);
  ro = await startDiod(roDir);
  expect((await cli('catalog', 'add', bundle.manifestUrl)).code).toBe(0);
});

afterAll(async () => {
  for (const p of processesMentioning(home)) process.kill(p.pid, 'SIGKILL');
  await rw?.stop();
  await ro?.stop();
  await bundle?.close();
  t.cleanup();
});

async function shares(vm: string): Promise<Share[]> {
  const r = await cli('share', 'ls', vm, '--json');
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as unknown[]).map((s) => Share.parse(s));
}

async function withVm(name: string, body: (tap: ConsoleTap, vm: Vm) => Promise<void>): Promise<void> {
  const engine = new Engine({ home, env });
  const tap = new ConsoleTap(engine, name);
  try {
    const vm = await engine.invoke('vms:start', { name });
    expect(vm.state).toBe('running');
    await tap.attach();
    await tap.ready(180_000);
    await body(tap, vm);
  } finally {
    tap.close();
    await engine.invoke('vms:stop', { name }).catch(() => undefined);
    await engine.close();
  }
}

const MOUNTED = (tag: string, p: string) => new RegExp(`oklinux-init: remote ${tag} mounted on ${p}\\r*\\n`);

describe('remote 9p shares (diod on 127.0.0.1, restricted VM)', () => {
  it('refuses a VM with no network, and bad URLs, naming the fix', async () => {
    expect((await cli('create', 'nonet', '--image', TEST_BUNDLE, '--net', 'none')).code).toBe(0);
    const r = await cli('share', 'add', 'nonet', `9p://127.0.0.1:${rw.port}${rwDir}`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(
      /has no network \(--net none\), so it cannot mount a remote share\. Make a VM with --net nat or restricted/,
    );
    expect(
      (await cli('create', 'r1', '--image', TEST_BUNDLE, '--accel', 'tcg', '--memory', '256', '--net', 'restricted'))
        .code,
    ).toBe(0);
    const bad = await cli('share', 'add', 'r1', '9p://127.0.0.1:70000/x');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/invalid port "70000".*write it as 9p:\/\/HOST\[:PORT\]\/ANAME/);
  });

  it('the guest reads a host file and writes one back; --ro holds; the mounts come back after a restart', async () => {
    const a = await cli(
      'share',
      'add',
      'r1',
      `9p://127.0.0.1:${rw.port}${rwDir}`,
      '--tag',
      'data',
      '--guest-path',
      '/mnt/remote',
      '--json',
    );
    expect(a.code, a.stderr).toBe(0);
    expect(Share.parse(JSON.parse(a.stdout))).toMatchObject({
      tag: 'data',
      hostPath: `9p://127.0.0.1:${rw.port}${rwDir}`,
      guestPath: '/mnt/remote',
      readOnly: false,
      remote: { url: `9p://127.0.0.1:${rw.port}${rwDir}`, state: 'idle', problem: null },
    });
    expect((await cli('share', 'add', 'r1', `9p://127.0.0.1:${ro.port}${roDir}`, '--tag', 'keep', '--ro')).code).toBe(
      0,
    );
    const dup = await cli('share', 'add', 'r1', `9p://127.0.0.1:${rw.port}${rwDir}/`);
    expect(dup.stderr).toMatch(/is already shared with the VM "r1" \(tag "data"\)/);

    await withVm('r1', async (tap, vm) => {
      const argv = fs.readFileSync(`/proc/${vm.pid}/cmdline`, 'utf8').split('\0');
      const netdev = argv[argv.indexOf('-netdev') + 1]!;
      expect(netdev).toMatch(
        /^user,id=n0,restrict=on,guestfwd=tcp:10\.0\.2\.100:564-cmd:.*oklinux-9p-relay\.mjs \S+relay\.sock data,guestfwd=tcp:10\.0\.2\.100:565-cmd:.* keep$/,
      );
      expect(argv[argv.indexOf('-append') + 1]).toContain(
        `oklinux.remote=data:/mnt/remote:10.0.2.100:trans=tcp,port=564,version=9p2000.L,aname=${rwDir},msize=131072 ` +
          `oklinux.remote=keep:/mnt/keep:10.0.2.100:trans=tcp,port=565,version=9p2000.L,aname=${roDir},msize=131072,ro`,
      );
      await tap.waitFor(MOUNTED('data', '/mnt/remote'));
      await tap.waitFor(MOUNTED('keep', '/mnt/keep'));
      await tap.run('cat /mnt/remote/hello.txt', /written on the host/);
      // the guest asked msize 131072; diod caps it at 65536 in its Rversion, and the mount runs at that
      await tap.run('grep " /mnt/remote " /proc/mounts', /msize=65536[,\s]/);
      await tap.run('echo written-by-the-guest > /mnt/remote/back.txt; sync');
      expect(fs.readFileSync(path.join(rwDir, 'back.txt'), 'utf8')).toBe('written-by-the-guest\n');
      await tap.run('cat /mnt/keep/keep.txt', /read-only on the guest/);
      await tap.run('echo no > /mnt/keep/no.txt; echo rc=$?', /Read-only file system[\s\S]*rc=[1-9]/);
      expect(fs.existsSync(path.join(roDir, 'no.txt'))).toBe(false);
      const states = await shares('r1');
      expect(states.map((s) => [s.tag, s.remote?.state])).toEqual([
        ['data', 'mounted'],
        ['keep', 'mounted'],
      ]);
    });
    expect((await shares('r1')).map((s) => s.remote?.state)).toEqual(['idle', 'idle']);

    // a restart: the guest mounts them again
    fs.writeFileSync(path.join(rwDir, 'hello.txt'), 'changed on the host\n');
    await withVm('r1', async (tap) => {
      await tap.waitFor(MOUNTED('data', '/mnt/remote'));
      await tap.run('cat /mnt/remote/hello.txt /mnt/remote/back.txt', /changed on the host\r*\nwritten-by-the-guest/);
    });
  });

  it('with the server stopped the VM still boots, and the share shows as unreachable', async () => {
    await rw.stop();
    await withVm('r1', async (tap) => {
      await tap.waitFor(/oklinux-init: remote data failed: [^\r\n]+\r*\n/);
      await tap.waitFor(MOUNTED('keep', '/mnt/keep'));
      const r = await cli('share', 'ls', 'r1', '--json');
      const data = (JSON.parse(r.stdout) as Share[]).find((s) => s.tag === 'data')!;
      expect(data.remote).toEqual({
        url: `9p://127.0.0.1:${rw.port}${rwDir}`,
        state: 'unreachable',
        problem: `cannot reach 127.0.0.1:${rw.port}: connection refused (is the server running?)`,
      });
      const human = await cli('share', 'ls', 'r1');
      expect(human.stdout).toMatch(/data .* unreachable: cannot reach 127\.0\.0\.1/);
      await tap.run('cat /mnt/keep/keep.txt', /read-only on the guest/);
    });
  });
});
