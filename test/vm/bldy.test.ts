/**
 * The bldy backend. bldy itself cannot run here (no bldy/crosvm build, and KVM
 * guests hang), so a stand-in script plays it: it records its argv, prints
 * nothing (which trips the boot watchdog), and exits when `bldy powerbtn SOCK`
 * presses the power button. The argv golden rules are checked through the real
 * CLI's `start --dry-run --backend bldy`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '@core/engine';
import { runCli } from '../helpers/cli';
import { tmpDir } from '../helpers/tmp';
import { FAKE_BLDY } from '../helpers/fake-bldy';
import { processesMentioning, serveTestBundle, vmEnv, TEST_BUNDLE, type BundleServer } from '../helpers/vm';

const t = tmpDir('oklinux-bldy-');
const home = path.join(t.dir, 'home');
const fake = path.join(t.dir, 'bin', 'bldy');
const record = path.join(t.dir, 'bldy-calls.log');
const env = { ...vmEnv(home), FAKE_BLDY_LOG: record, OKLINUX_BOOT_WATCHDOG_MS: '1500' };
const cli = (...args: string[]) => runCli(args, { env });
let bundle: BundleServer;

beforeAll(async () => {
  fs.mkdirSync(path.dirname(fake), { recursive: true });
  fs.writeFileSync(fake, FAKE_BLDY, { mode: 0o755 });
  bundle = await serveTestBundle({ kernel: 'debian' }); // argv only: the bundle with an initrd
  expect((await cli('catalog', 'add', bundle.manifestUrl)).code).toBe(0);
  expect((await cli('pull', TEST_BUNDLE)).code).toBe(0);
});

afterAll(async () => {
  for (const p of processesMentioning(home)) process.kill(p.pid, 'SIGKILL');
  await bundle?.close();
  t.cleanup();
});

describe('bldy argv (dry run, no bldy installed)', () => {
  it('follows crosvm rules: serial, control socket, one --shared-dir per share, kernel last; ":" goes through a symlink', async () => {
    const plain = path.join(t.dir, 'src');
    const odd = path.join(t.dir, 'a:b c,d');
    fs.mkdirSync(plain);
    fs.mkdirSync(odd);
    expect(
      (
        await cli(
          'create',
          'b1',
          '--image',
          TEST_BUNDLE,
          '--cpus',
          '3',
          '--memory',
          '768',
          '--append',
          'loglevel=4',
          '--net',
          'none',
        )
      ).code,
    ).toBe(0);
    expect((await cli('share', 'add', 'b1', plain)).code).toBe(0);
    expect((await cli('share', 'add', 'b1', odd, '--ro', '--tag', 'odd')).code).toBe(0);
    const r = await cli('start', 'b1', '--dry-run', '--backend', 'bldy', '--json');
    expect(r.code, r.stderr).toBe(0);
    const argv = JSON.parse(r.stdout) as string[];
    const run = path.join(home, 'run', '1');
    const kernel = argv[argv.length - 1]!;
    expect(argv[0]).toBe('bldy');
    expect(argv.slice(1, 8)).toEqual([
      'run',
      '-m',
      '768',
      '-c',
      '3',
      '-i',
      expect.stringMatching(/store\/sha256\/[0-9a-f]{64}$/),
    ]);
    expect(kernel).toMatch(/store\/sha256\/[0-9a-f]{64}$/);
    const params = argv.flatMap((a, i) => (argv[i - 1] === '-p' ? [a] : []));
    expect(params).toEqual([
      'console=ttyS0 quiet',
      'panic=-1',
      'oklinux.hostname=b1',
      'loglevel=4',
      'oklinux.net=none',
      'oklinux.mount=src:/mnt/src:trans=virtio,version=9p2000.L,msize=65560,cache=mmap',
      'oklinux.mount=odd:/mnt/odd:trans=virtio,version=9p2000.L,msize=65560,cache=mmap,ro',
    ]);
    expect(argv).toContain('--serial');
    expect(argv[argv.indexOf('--serial') + 1]).toBe('type=stdout,hardware=serial,num=1,console,stdin');
    expect(argv[argv.indexOf('-s') + 1]).toBe(path.join(run, 'control.sock'));
    const shared = argv.flatMap((a, i) => (argv[i - 1] === '--shared-dir' ? [a] : []));
    expect(shared).toEqual([`${plain}:src:type=p9`, `${path.join(run, 'shares', 'odd')}/.:odd:type=p9`]);
    for (const s of shared) expect(s.split(':')).toHaveLength(3);
    expect(argv).toContain('--disable-sandbox');
    // the same VM under QEMU takes the path as it is, commas doubled
    const q = JSON.parse((await cli('start', 'b1', '--dry-run', '--backend', 'qemu', '--json')).stdout) as string[];
    expect(q).toContain(`local,id=fs1,path=${odd.replace(/,/g, ',,')},security_model=none,readonly=on`);
  });
});

describe('bldy on a TAP (dry run)', () => {
  it('create --net tap:NAME is stored, and start gives crosvm --net tap-name=NAME; bad names, nat and ports are refused', async () => {
    const bad = await cli(
      'create',
      'tbad',
      '--image',
      TEST_BUNDLE,
      '--backend',
      'bldy',
      '--net',
      'tap:tap0123456789abc',
    );
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/longer than 15 bytes, Linux's limit for interface names \(IFNAMSIZ\)/);
    const nat = await cli('create', 'tnat', '--image', TEST_BUNDLE, '--backend', 'bldy', '--net', 'nat');
    expect(nat.code).not.toBe(0);
    expect(nat.stderr).toMatch(/--net tap:NAME for a TAP device you made/);
    expect((await cli('create', 't1', '--image', TEST_BUNDLE, '--backend', 'bldy', '--net', 'tap:okt0')).code).toBe(0);
    const vms = JSON.parse((await cli('ls', '--json')).stdout) as { name: string; net: string }[];
    expect(vms.find((v) => v.name === 't1')?.net).toBe('tap:okt0');
    const r = await cli('start', 't1', '--dry-run', '--json');
    expect(r.code, r.stderr).toBe(0);
    const argv = JSON.parse(r.stdout) as string[];
    expect(argv.slice(argv.indexOf('--serial'))).toEqual([
      '--serial',
      'type=stdout,hardware=serial,num=1,console,stdin',
      '--net',
      'tap-name=okt0',
      '--disable-sandbox',
      argv[argv.length - 1],
    ]);
    expect(argv.flatMap((a, i) => (argv[i - 1] === '-p' ? [a] : []))).toContain('oklinux.net=eth0:::');
    const port = await cli('port', 'add', 't1', '8080:80');
    expect(port.code).not.toBe(0);
    expect(port.stderr).toMatch(/is on the TAP device okt0, so it cannot publish ports/);
  });
});

describe('bldy lifecycle (stand-in VMM)', () => {
  it('starts through the configured bldy, warns when the guest prints nothing, and stops with the power button', async () => {
    const engine = new Engine({ home, env });
    try {
      await engine.invoke('settings:set', { bldyPath: fake });
      await engine.invoke('vms:create', { name: 'b2', image: TEST_BUNDLE, backend: 'bldy' });
      const vm = await engine.invoke('vms:start', { name: 'b2' });
      expect(vm.state).toBe('running');
      const calls = () => (fs.existsSync(record) ? fs.readFileSync(record, 'utf8').trim().split('\n') : []);
      for (let i = 0; i < 100 && !calls().at(-1)?.startsWith('run '); i++) await new Promise((r) => setTimeout(r, 50));
      expect(calls().at(-1)).toMatch(
        /^run -m 1024 -c 2 -i .* -s .*control\.sock --serial type=stdout,hardware=serial,num=1,console,stdin --disable-sandbox .*[0-9a-f]{64}$/,
      );
      const end = Date.now() + 20_000;
      let warned = '';
      while (Date.now() < end && !warned) {
        warned = (await engine.invoke('vms:get', { name: 'b2' })).lastError ?? '';
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(warned).toMatch(
        /printed nothing on its console within 2 s\. KVM guests can hang on some hosts: try "--accel tcg"/,
      );
      const stopped = await engine.invoke('vms:stop', { name: 'b2' });
      expect(stopped.state).toBe('stopped');
      expect(calls().at(-1)).toMatch(/^powerbtn .*control\.sock$/);
      expect(processesMentioning(home)).toEqual([]);
    } finally {
      await engine.close();
    }
  });
  it('a guest that reports its halt failed (synced, / read-only) is ended then, not after the 30 s grace period', async () => {
    const engine = new Engine({ home, env: { ...env, FAKE_BLDY_HALT: 'fails' } });
    try {
      await engine.invoke('settings:set', { bldyPath: fake });
      await engine.invoke('vms:create', { name: 'b3', image: TEST_BUNDLE, backend: 'bldy' });
      const vm = await engine.invoke('vms:start', { name: 'b3' });
      expect(vm.state).toBe('running');
      // the same lines with no stop asked for (a guest printing them, or a file that holds them) end nothing
      const runLine = () =>
        fs
          .readFileSync(record, 'utf8')
          .split('\n')
          .findLast((l) => l.includes(' -s '));
      let pidFile = '';
      for (let i = 0; i < 100 && !fs.existsSync(pidFile); i++) {
        await new Promise((r) => setTimeout(r, 50));
        pidFile = `${/ -s (\S+)/.exec(runLine() ?? '')?.[1]}.pid`;
      }
      process.kill(Number(fs.readFileSync(pidFile, 'utf8')), 'SIGUSR1');
      await new Promise((r) => setTimeout(r, 2500));
      expect((await cli('logs', 'b3')).stdout).toMatch(/oklinux-init: poweroff failed/);
      expect((await engine.invoke('vms:get', { name: 'b3' })).state).toBe('running');
      const asked = Date.now();
      const stopped = await engine.invoke('vms:stop', { name: 'b3' });
      const secs = (Date.now() - asked) / 1000;
      console.log(`stop to stopped (guest reports its halt failed): ${secs.toFixed(2)} s`);
      expect(stopped.state).toBe('stopped');
      // the stand-in says "poweroff failed" 1 s after the press; the grace period is 30 s
      expect(secs).toBeLessThan(15);
      expect((await cli('logs', 'b3')).stdout).toMatch(/oklinux-init: poweroff\r*\noklinux-init: poweroff failed/);
      expect(processesMentioning(home)).toEqual([]);
    } finally {
      await engine.close();
    }
  });
});
