/**
 * VM lifecycle against real QEMU (TCG) booting the okLinux-shaped test kernel
 * with no initrd and a 9p root from the bundle's rootfs, through the real pull
 * path (a local manifest over HTTP), the CLI and the engine.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '@core/engine';
import { runCli, OKLINUX_BIN } from '../helpers/cli';
import { tmpDir } from '../helpers/tmp';
import { ConsoleTap, processesMentioning, serveTestBundle, vmEnv, TEST_BUNDLE, type BundleServer } from '../helpers/vm';

let bundle: BundleServer;
const t = tmpDir('oklinux-vm-');
const home = path.join(t.dir, 'home');
const env = vmEnv(home);
const cli = (...args: string[]) => runCli(args, { env });

const shareDir = path.join(t.dir, 'shared');
const roDir = path.join(t.dir, 'read only');
const oddDir = path.join(t.dir, 'odd: name, with space');

beforeAll(async () => {
  bundle = await serveTestBundle();
  fs.mkdirSync(shareDir);
  fs.mkdirSync(roDir);
  fs.mkdirSync(oddDir);
  fs.writeFileSync(path.join(shareDir, 'from-host.txt'), 'hello from the host\n');
  fs.writeFileSync(path.join(roDir, 'keep.txt'), 'read me\n');
  fs.writeFileSync(path.join(oddDir, 'odd.txt'), 'odd path ok\n');
  expect((await cli('catalog', 'add', bundle.manifestUrl)).code).toBe(0);
});

afterAll(async () => {
  for (const p of processesMentioning(home)) process.kill(p.pid, 'SIGKILL');
  await bundle?.close();
  t.cleanup();
});

describe('one VM, end to end', () => {
  it('creates a VM, shares folders, and one-click start pulls the image and boots it', async () => {
    expect((await cli('create', 'dev', '--image', TEST_BUNDLE, '--accel', 'tcg', '--memory', '512')).code).toBe(0);
    expect((await cli('share', 'add', 'dev', shareDir)).stdout).toContain('as "shared" at /mnt/shared');
    expect((await cli('share', 'add', 'dev', roDir, '--ro', '--tag', 'ro')).code).toBe(0);
    expect((await cli('share', 'add', 'dev', oddDir, '--tag', 'odd')).code).toBe(0);
    const fstab = await cli('share', 'ls', 'dev', '--fstab');
    expect(fstab.stdout).toContain(
      'ro /mnt/ro 9p trans=virtio,version=9p2000.L,msize=512000,cache=mmap,ro,_netdev,nofail 0 0',
    );

    const start = await cli('start', 'dev', '--json');
    expect(start.code, start.stderr).toBe(0);
    expect(JSON.parse(start.stdout.trim().split('\n').pop()!)).toMatchObject({ name: 'dev', state: 'running' });
    const ls = JSON.parse((await cli('ls', '--json')).stdout) as { name: string; state: string }[];
    expect(ls).toEqual([expect.objectContaining({ name: 'dev', state: 'running' })]);
    // the image really came through the pull path
    expect(bundle.server.requestsTo('/vmlinuz').length).toBe(1);
    expect(bundle.server.requestsTo('/rootfs.tar.gz').length).toBe(1);
  });

  it('reads host files in the guest, writes guest files to the host, refuses writes to a read-only share', async () => {
    const engine = new Engine({ home, env });
    const tap = new ConsoleTap(engine, 'dev');
    try {
      await tap.attach();
      await tap.ready();
      await tap.waitFor(/mounted odd on \/mnt\/odd/);
      await tap.run('echo mark""er-$((6*7))', /marker-42/);
      await tap.run('cat /mnt/shared/from-host.txt', /hello from the host/);
      await tap.run('echo written-in-guest > /mnt/shared/from-guest.txt && echo W-OK', /W-OK/);
      expect(fs.readFileSync(path.join(shareDir, 'from-guest.txt'), 'utf8')).toBe('written-in-guest\n');
      // a command that finishes late is still waited for (its marker, not its echo or a prompt)
      await tap.run('sleep 1; echo late > /mnt/shared/late.txt');
      expect(fs.readFileSync(path.join(shareDir, 'late.txt'), 'utf8')).toBe('late\n');
      await tap.run('cat /mnt/ro/keep.txt', /read me/);
      // the quotes keep the typed command's echo from matching
      const m = await tap.run(
        'touch /mnt/ro/nope 2>/dev/null && echo RO-""BROKEN || echo RO-""REFUSED',
        /RO-(REFUSED|BROKEN)/,
      );
      expect(m).toBe('RO-REFUSED');
      expect(fs.existsSync(path.join(roDir, 'nope'))).toBe(false);
      await tap.run('cat /mnt/odd/odd.txt', /odd path ok/);
    } finally {
      tap.close();
      await engine.close();
    }
  });

  it('shows a share added while running as pending until the next start', async () => {
    const extra = path.join(t.dir, 'extra');
    fs.mkdirSync(extra);
    const add = await cli('share', 'add', 'dev', extra, '--json');
    expect(JSON.parse(add.stdout)).toMatchObject({ tag: 'extra', pending: true });
    const vm = JSON.parse((await cli('ls', '--json')).stdout)[0];
    expect(vm.pendingRestart).toBe(true);
    expect((await cli('share', 'rm', 'dev', 'extra')).code).toBe(0);
  });

  it('stops gracefully: stopped, with no VMM or supervisor left', async () => {
    const stop = await cli('stop', 'dev', '--json');
    expect(stop.code, stop.stderr).toBe(0);
    expect(JSON.parse(stop.stdout)).toMatchObject({ state: 'stopped', pid: null });
    expect(processesMentioning(home)).toEqual([]);
    expect((await cli('logs', 'dev')).stdout).toContain('oklinux-init: ready');
  });

  it('a guest poweroff ends as stopped', async () => {
    const engine = new Engine({ home, env });
    const tap = new ConsoleTap(engine, 'dev');
    try {
      // like the UI: console users react to "running" while start is still connecting; they share one connection
      const resizes: Promise<unknown>[] = [];
      const off = engine.onEvent((e) => {
        if (e.type === 'vm:state' && e.vm.state === 'running') {
          resizes.push(engine.invoke('console:resize', { name: 'dev', cols: 100, rows: 30 }));
        }
      });
      await engine.invoke('vms:start', { name: 'dev' });
      off();
      await Promise.all(resizes);
      expect(resizes.length).toBeGreaterThan(0);
      await tap.attach();
      await tap.ready();
      const from = tap.text.length;
      await tap.run('echo on""ce-marker', /once-marker/);
      await new Promise((r) => setTimeout(r, 300));
      expect(tap.text.slice(from).match(/once-marker/g)).toHaveLength(1);
      await engine.invoke('console:write', { name: 'dev', data: 'poweroff\n' });
      await waitState(engine, 'dev', 'stopped').catch((e: Error) => {
        throw new Error(`${e.message}; console:\n${tap.text.slice(-1500)}`);
      });
      const vm = await engine.invoke('vms:get', { name: 'dev' });
      expect(vm).toMatchObject({ state: 'stopped', exitCode: 0, lastError: null });
    } finally {
      tap.close();
      await engine.close();
    }
  });

  it('a VMM killed with SIGKILL ends as crashed, keeping its exit status and console tail', async () => {
    const engine = new Engine({ home, env });
    try {
      const vm = await engine.invoke('vms:start', { name: 'dev' });
      const tap = new ConsoleTap(engine, 'dev');
      await tap.attach();
      await tap.ready();
      tap.close();
      process.kill(vm.pid!, 'SIGKILL');
      await waitState(engine, 'dev', 'crashed');
      const after = await engine.invoke('vms:get', { name: 'dev' });
      expect(after.exitSignal).toBe('SIGKILL');
      expect(after.lastError).toMatch(/killed by SIGKILL[\s\S]*oklinux-init: ready/);
      expect((await cli('logs', 'dev')).stdout).toContain('oklinux-init: ready');
    } finally {
      await engine.close();
    }
  });

  it('the CLI killed while its VM runs: a new ls shows it running, and stop stops it', async () => {
    const child = spawn(process.execPath, [OKLINUX_BIN, 'start', 'dev', '--attach'], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const end = Date.now() + 45_000;
    while (!out.includes('oklinux-init: ready') && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    expect(out, `start --attach printed:\n${out}\n${err}`).toContain('oklinux-init: ready');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    const ls = JSON.parse((await cli('ls', '--json')).stdout)[0];
    expect(ls).toMatchObject({ name: 'dev', state: 'running' });
    expect((await cli('stop', 'dev')).code).toBe(0);
    expect(JSON.parse((await cli('ls', '--json')).stdout)[0]).toMatchObject({ state: 'stopped' });
  });

  it('two racing starts give one VMM', async () => {
    const [a, b] = await Promise.all([cli('start', 'dev'), cli('start', 'dev')]);
    expect([a.code, b.code].sort()).toEqual([0, 4]);
    expect((a.code === 4 ? a : b).stderr).toMatch(/already (starting|running)/);
    const qemus = processesMentioning(home).filter((p) => p.cmd.startsWith('/usr/bin/qemu-system'));
    expect(qemus.length).toBe(1);
    expect((await cli('stop', 'dev', '--force')).code).toBe(0);
  });

  // Forced stops, each right after the start (the guest is still booting): the kill path, 20 times
  // in a few seconds each. The graceful path (the guest answers the power button) is test/vm/stop.test.ts.
  it('20 start/stop cycles leave no stray processes and no leaked fds', async () => {
    const engine = new Engine({ home, env });
    try {
      const fds = () => fs.readdirSync('/proc/self/fd').length;
      await engine.invoke('vms:start', { name: 'dev' });
      await engine.invoke('vms:stop', { name: 'dev', force: true });
      const before = fds();
      for (let i = 0; i < 20; i++) {
        const up = await engine.invoke('vms:start', { name: 'dev' });
        expect(up.state).toBe('running');
        const down = await engine.invoke('vms:stop', { name: 'dev', force: true });
        expect(down.state).toBe('stopped');
      }
      await new Promise((r) => setTimeout(r, 200));
      expect(fds()).toBeLessThanOrEqual(before);
      expect(processesMentioning(home)).toEqual([]);
    } finally {
      await engine.close();
    }
  });
});

async function waitState(engine: Engine, name: string, state: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if ((await engine.invoke('vms:get', { name })).state === state) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} never reached ${state}; it is ${(await engine.invoke('vms:get', { name })).state}`);
}
