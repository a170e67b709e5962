/**
 * The 9p root's cache mode (ROOT_CACHE, core/shares/mount.ts) loses nothing (#11 item 5):
 * - after a clean stop, everything the guest wrote is on the host;
 * - after a guest crash (a kernel panic) and after a VMM SIGKILL, everything the guest had synced (`sync`
 *   returned, or an fsync: `dd conv=fsync`) is on the host, and the root still boots.
 * The okLinux-shaped kernel (no CONFIG_MAGIC_SYSRQ, so no `echo c >/proc/sysrq-trigger`), no initrd, the
 * test bundle's 9p root, real QEMU (TCG), the default grace period. The crash is a real panic: with
 * vm.panic_on_oom=1 the guest runs out of memory, the kernel panics, and the app's `panic=-1` (plus QEMU's
 * -no-reboot) ends the VM.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '@core/engine';
import { ROOT_CACHE } from '@core/shares/mount';
import { runCli } from '../helpers/cli';
import { tmpDir } from '../helpers/tmp';
import { ConsoleTap, processesMentioning, serveTestBundle, vmEnv, TEST_BUNDLE, type BundleServer } from '../helpers/vm';

const t = tmpDir('oklinux-rootcache-');
const home = path.join(t.dir, 'home');
const env = vmEnv(home);
const cli = (...args: string[]) => runCli(args, { env });
let bundle: BundleServer;

beforeAll(async () => {
  expect(env.OKLINUX_STOP_GRACE_MS, 'these tests run with the default grace period').toBeUndefined();
  bundle = await serveTestBundle();
  expect((await cli('catalog', 'add', bundle.manifestUrl)).code).toBe(0);
});

afterAll(async () => {
  for (const p of processesMentioning(home)) process.kill(p.pid, 'SIGKILL');
  await bundle?.close();
  t.cleanup();
});

const sha256 = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const HEX = /\b[0-9a-f]{64}\b/g;

/** Runs `body` with an engine and a tap on `vm`'s console, started and at its prompt. */
async function withRunningVm<T>(vm: string, body: (engine: Engine, tap: ConsoleTap) => Promise<T>): Promise<T> {
  const engine = new Engine({ home, env });
  const tap = new ConsoleTap(engine, vm);
  try {
    await engine.invoke('vms:start', { name: vm });
    await tap.attach();
    await tap.ready();
    return await body(engine, tap);
  } finally {
    tap.close();
    await engine.close();
  }
}

/** The VM's state once it is no longer running (polled: the supervisor records the VMM's end). */
async function whenEnded(engine: Engine, vm: string, ms = 120_000): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const { state } = await engine.invoke('vms:get', { name: vm });
    if (state !== 'running' && state !== 'stopping' && state !== 'starting') return state;
    if (Date.now() > end) throw new Error(`${vm} still ${state} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function rootOf(vm: string): Promise<string> {
  const engine = new Engine({ home, env });
  try {
    const { managedRoot } = await engine.invoke('vms:get', { name: vm });
    if (!managedRoot) throw new Error(`${vm} has no managed root`);
    return managedRoot;
  } finally {
    await engine.close();
  }
}

/**
 * In the guest: 100 small files, a 256 KiB file and its digest, all made durable by `sync`; then a 64 KiB file
 * written with fsync only (dd conv=fsync) and its digest. Returns [big digest, fsync'd digest].
 */
async function writeSynced(tap: ConsoleTap, dir: string): Promise<string[]> {
  const out = await tap.run(
    `mkdir -p ${dir} && for i in $(seq 1 100); do echo "synced $i" > ${dir}/s$i; done && ` +
      `head -c 262144 /dev/urandom > ${dir}/big && sha256sum ${dir}/big && sync && ` +
      `head -c 65536 /dev/urandom > /tmp/fs && dd if=/tmp/fs of=${dir}/fsynced bs=65536 conv=fsync 2>/dev/null && ` +
      `sha256sum ${dir}/fsynced && echo SY""NCED`,
    /[^]*SYNCED/,
    60_000,
  );
  const digests = out.match(HEX) ?? [];
  expect(digests, out).toHaveLength(2);
  // written after: no promise is made about these
  await tap.run(`echo later > ${dir}/unsynced; mkdir ${dir}/later-dir`);
  return digests;
}

/** On the host, in `root`: what writeSynced made durable. */
function expectSynced(root: string, dir: string, [big, fsynced]: string[]): void {
  const d = path.join(root, dir);
  for (let i = 1; i <= 100; i++) expect(fs.readFileSync(path.join(d, `s${i}`), 'utf8')).toBe(`synced ${i}\n`);
  expect(sha256(path.join(d, 'big'))).toBe(big);
  expect(sha256(path.join(d, 'fsynced'))).toBe(fsynced);
}

/** Boots `vm` again: it reaches its prompt, and the guest reads back what was synced. */
async function bootsAndReads(vm: string, dir: string, [big, fsynced]: string[]): Promise<void> {
  await withRunningVm(vm, async (engine, tap) => {
    const out = await tap.run(`cat ${dir}/s100; sha256sum ${dir}/big ${dir}/fsynced`, /synced 100[^]*/);
    expect(out).toContain(big);
    expect(out).toContain(fsynced);
    const stop = await engine.invoke('vms:stop', { name: vm });
    expect(stop.state).toBe('stopped');
  });
}

describe(`the 9p root (cache=${ROOT_CACHE}) loses nothing`, () => {
  it('a clean stop: everything the guest wrote (files, renames, removals, links, modes) is on the host', async () => {
    expect((await cli('create', 'clean', '--image', TEST_BUNDLE, '--accel', 'tcg')).code).toBe(0);
    const digest = await withRunningVm('clean', async (engine, tap) => {
      // the kernel shows the mode as a bare word (fs/9p/v9fs.c), and none not at all
      const opts = (await tap.run('grep " / " /proc/mounts', /9p\s\S*/)).split(',');
      if (ROOT_CACHE !== 'none') expect(opts).toContain(ROOT_CACHE);
      const out = await tap.run(
        'mkdir -p /t/a/b && for i in $(seq 1 300); do echo "file $i" > /t/a/b/f$i; done && ' +
          'head -c 1048576 /dev/urandom > /t/big && mv /t/a/b/f1 /t/renamed && rm /t/a/b/f2 && ' +
          'ln -s big /t/link && chmod 600 /t/big && echo appended >> /t/a/b/f3 && sha256sum /t/big',
        HEX,
        60_000,
      );
      // no sync: the stop must flush it all
      const stop = await engine.invoke('vms:stop', { name: 'clean' });
      expect(stop).toMatchObject({ state: 'stopped', exitSignal: null });
      return out;
    });
    const root = await rootOf('clean');
    expect((await cli('logs', 'clean')).stdout).toMatch(/oklinux-init: poweroff[^]*reboot: Power down/);
    const b = path.join(root, 't/a/b');
    expect(fs.readdirSync(b).length).toBe(298);
    expect(fs.readFileSync(path.join(b, 'f300'), 'utf8')).toBe('file 300\n');
    expect(fs.readFileSync(path.join(b, 'f3'), 'utf8')).toBe('file 3\nappended\n');
    expect(fs.existsSync(path.join(b, 'f1'))).toBe(false);
    expect(fs.existsSync(path.join(b, 'f2'))).toBe(false);
    expect(fs.readFileSync(path.join(root, 't/renamed'), 'utf8')).toBe('file 1\n');
    expect(fs.readlinkSync(path.join(root, 't/link'))).toBe('big');
    expect(fs.statSync(path.join(root, 't/big')).mode & 0o777).toBe(0o600);
    expect(sha256(path.join(root, 't/big'))).toBe(digest);
  });

  it('a guest crash (kernel panic): what was synced is on the host, and the root boots again', async () => {
    expect((await cli('create', 'crash', '--image', TEST_BUNDLE, '--accel', 'tcg')).code).toBe(0);
    const digests = await withRunningVm('crash', async (engine, tap) => {
      const d = await writeSynced(tap, '/c');
      // out of memory with panic_on_oom: the kernel panics (typed without a marker: the shell never finishes)
      await engine.invoke('console:write', {
        name: 'crash',
        data: 'echo 1 >/proc/sys/vm/panic_on_oom; for i in 1 2 3; do dd if=/dev/zero of=/dev/null bs=600M count=1 & done; wait\n',
      });
      await tap.waitFor(/Kernel panic - not syncing/, 120_000);
      await whenEnded(engine, 'crash');
      return d;
    });
    expect(processesMentioning(home).filter((p) => p.cmd.includes('qemu-system'))).toEqual([]);
    expectSynced(await rootOf('crash'), 'c', digests);
    await bootsAndReads('crash', '/c', digests);
  });

  it('a VMM SIGKILL: what was synced is on the host, and the root boots again', async () => {
    expect((await cli('create', 'killed', '--image', TEST_BUNDLE, '--accel', 'tcg')).code).toBe(0);
    const digests = await withRunningVm('killed', async (engine, tap) => {
      const d = await writeSynced(tap, '/k');
      const vmms = processesMentioning(home).filter((p) => p.cmd.includes('qemu-system'));
      expect(vmms).toHaveLength(1);
      process.kill(vmms[0]!.pid, 'SIGKILL');
      await whenEnded(engine, 'killed');
      return d;
    });
    expectSynced(await rootOf('killed'), 'k', digests);
    await bootsAndReads('killed', '/k', digests);
  });
});
