/**
 * A root made with debootstrap, as in the okLinux docs, boots over 9p: Debian bookworm (minbase)
 * built once per machine with `debootstrap` and cached outside the clone, in
 * `${XDG_CACHE_HOME:-~/.cache}/oklinux-tests/debootstrap/bookworm-minbase-<key>/` (the key hashes the suite,
 * variant, mirror and debootstrap's version, so a changed input builds anew), then copied
 * for each run, so nothing the app or the guest writes reaches the cache. minbase has no /sbin/init,
 * so oklinux-init gives its login-free shell: dash, Debian's /bin/sh. It boots Debian's own modular
 * kernel through the test initramfs (9p modules, switch_root): the suite for kernels that need modules.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli';
import { debootstrapRoot, exec, SUITE, VARIANT } from '../fixtures/debootstrap';
import { tmpDir } from '../helpers/tmp';
import { Engine } from '@core/engine';
import { ConsoleTap, processesMentioning, Run, vmEnv } from '../helpers/vm';
import { startRootlessWorld, type RootlessWorld } from '../helpers/rootless';

/** Every path in a tree (symlinks not followed), sorted: a cheap fingerprint of the root. */
const listing = (dir: string) => (fs.readdirSync(dir, { recursive: true }) as string[]).sort();

const t = tmpDir('oklinux-debootstrap-');
const home = path.join(t.dir, 'home');
const root = path.join(t.dir, 'debian root');
const shareDir = path.join(t.dir, 'share');
let world: RootlessWorld;
let env: NodeJS.ProcessEnv;
const cli = (...args: string[]) => runCli(args, { env });

beforeAll(async () => {
  const cached = await debootstrapRoot();
  // a copy: the app installs oklinux-init and writes fstab into it, the guest writes what it likes
  await exec('cp', ['-a', '--reflink=auto', cached, root]);
  // the one app-level suite on Debian's modular kernel plus the initramfs that loads its 9p modules
  world = await startRootlessWorld(path.join(t.dir, 'world'), { kernel: 'debian' });
  env = { ...vmEnv(home), OKLINUX_GITHUB_API: world.api, OKLINUX_DEFAULT_MANIFEST: world.manifestUrl };
  fs.mkdirSync(shareDir);
  fs.writeFileSync(path.join(shareDir, 'hello.txt'), 'from the host\n');
});

afterAll(async () => {
  for (const p of processesMentioning(home)) process.kill(p.pid, 'SIGKILL');
  await world?.close();
  t.cleanup();
});

describe(`a debootstrap root (Debian ${SUITE}, --variant=${VARIANT}) as --root-dir`, () => {
  it('boots over 9p to a root shell with the share mounted; poweroff ends as stopped', async () => {
    const create = ['--image', 'oklinux', '--root-dir', root, '--accel', 'tcg'];
    expect((await cli('create', 'deb', ...create)).code).toBe(0);
    expect((await cli('share', 'add', 'deb', shareDir, '--tag', 'host')).code).toBe(0);
    const run = new Run(env, ['deb', ...create]);
    await run.waitFor(/oklinux-init: ready[\s\S]*# /);
    expect(run.out).toMatch(/oklinux-init: mounted host on \/mnt\/host\r*\n/);
    expect(run.out).not.toContain('oklinux-init: exec /sbin/init');
    expect(run.out).toContain('oklinux-init: switch_root oklinux-root');
    expect(fs.readFileSync(path.join(root, 'etc', 'fstab'), 'utf8')).toMatch(
      /^host \/mnt\/host 9p trans=virtio,[^\n]*,_netdev,nofail 0 0$/m,
    );
    expect(fs.existsSync(path.join(root, 'usr', 'sbin', 'oklinux-init'))).toBe(true); // through /sbin -> usr/sbin
    // type() waits for each command's completion marker and matches only its output, never the echo
    await run.type('echo "debian=$(cat /etc/debian_version)"', /debian=12\.\d+\r*\n/);
    await run.type('echo "uid=$(id -u)"', /uid=0\r*\n/);
    await run.type('echo "shell=$(readlink -f /proc/$$/exe)"', /shell=\/usr\/bin\/dash\r*\n/);
    await run.type('grep " / " /proc/mounts', /oklinux-root \/ 9p [^\n]*trans=virtio/);
    await run.type('cat /mnt/host/hello.txt', /from the host/);
    await run.type('echo guest > /mnt/host/out.txt && echo SHARE-""OK', /SHARE-OK/);
    run.child.stdin.write('poweroff\n');
    expect(await run.exited, run.out.slice(-2000)).toBe(0);
    const vm = JSON.parse((await cli('ls', '--json')).stdout).find((v: { name: string }) => v.name === 'deb');
    expect(vm).toMatchObject({ state: 'stopped', image: 'oklinux', rootDir: root });
    expect(fs.readFileSync(path.join(shareDir, 'out.txt'), 'utf8')).toBe('guest\n');
  });

  it('oklinux stop powers it off cleanly in seconds (dash, coreutils dd, the button and evdev modules)', async () => {
    const engine = new Engine({ home, env });
    const seen: { at: number; text: string }[] = [];
    const tap = new ConsoleTap(engine, 'deb');
    const off = engine.onEvent((e) => {
      if (e.type === 'console:data' && e.vm === 'deb') seen.push({ at: Date.now(), text: e.data });
    });
    let asked = 0;
    let secs: number;
    try {
      await engine.invoke('vms:start', { name: 'deb' });
      await tap.attach();
      await tap.ready();
      asked = Date.now();
      const stop = await cli('stop', 'deb', '--json');
      secs = (Date.now() - asked) / 1000;
      expect(stop.code, stop.stderr).toBe(0);
      expect(JSON.parse(stop.stdout)).toMatchObject({ state: 'stopped', exitSignal: null });
    } finally {
      off();
      tap.close();
      await engine.close();
    }
    // when each step showed on the console, counted from the request
    const when = (re: RegExp): string => {
      let text = '';
      for (const s of seen) {
        text += s.text;
        if (s.at >= asked && re.test(text)) return `${((s.at - asked) / 1000).toFixed(2)} s`;
      }
      return 'never';
    };
    const steps = `poweroff line at ${when(/oklinux-init: poweroff/)}, power down at ${when(/reboot: Power down/)}`;
    console.log(`stop to stopped (debootstrap root, Debian kernel, oklinux stop): ${secs.toFixed(2)} s (${steps})`);
    // The guest powered itself off (the lines below, exit with no signal), well before the 30 s grace period
    // that a guest ignoring the button waits out. The under-5 s goal is held on okLinux's own kernel (stop.test.ts);
    // here Debian's kernel and dash under TCG took 2.1-2.4 s on a quiet machine, 6.3 s with both cores loaded, and
    // 13.8 s (the poweroff line at 7.2 s: the dev CLI's start is in it) at a load average of 14 on 2 cores.
    expect(secs, steps).toBeLessThan(25);
    const log = (await cli('logs', 'deb')).stdout.split('---- VM started').pop()!;
    expect(log).toMatch(/oklinux-init: poweroff[\r\n]+[\s\S]*reboot: Power down/);
  });

  it('never deletes a --root-dir root: not with --keep-root, --delete-root, or no choice', async () => {
    const before = listing(root);
    expect(before).toContain(path.join('etc', 'debian_version'));
    for (const [vm, flags] of [
      ['deb', ['--delete-root']],
      ['deb-keep', ['--keep-root']],
      ['deb-plain', []],
    ] as const) {
      if (vm !== 'deb') expect((await cli('create', vm, '--image', 'oklinux', '--root-dir', root)).code).toBe(0);
      const r = await cli('rm', vm, ...flags);
      expect(r.code, r.stderr).toBe(0);
      if (vm !== 'deb-keep') expect(fs.existsSync(path.join(home, 'vms', vm))).toBe(false);
      expect(listing(root)).toEqual(before);
    }
    expect(JSON.parse((await cli('ls', '--json')).stdout)).toEqual([]);
  });
});
