/**
 * QEMU's microvm machine (#11 item 6), for real: the okLinux-shaped kernel (virtio-mmio built in, no initrd)
 * from a bundle whose manifest says `virtioMmio`, under TCG, boots on `-M microvm` with its 9p root, a rw
 * share and NAT networking (the guest gets its address by DHCP), all on virtio-mmio with no PCI, and stops
 * cleanly: the power button (microvm's ACPI) makes oklinux-init power off, under 5 s, with the default grace
 * period. `create --machine pc` keeps the same bundle on the PC machine.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '@core/engine';
import { runCli } from '../helpers/cli';
import { tmpDir } from '../helpers/tmp';
import { ConsoleTap, processesMentioning, serveTestBundle, vmEnv, TEST_BUNDLE, type BundleServer } from '../helpers/vm';

const t = tmpDir('oklinux-microvm-');
const home = path.join(t.dir, 'home');
const env = vmEnv(home);
const cli = (...args: string[]) => runCli(args, { env });
const shareDir = path.join(t.dir, 'data');
let bundle: BundleServer;

beforeAll(async () => {
  expect(env.OKLINUX_STOP_GRACE_MS, 'these tests run with the default grace period').toBeUndefined();
  bundle = await serveTestBundle({ virtioMmio: true });
  fs.mkdirSync(shareDir);
  expect((await cli('catalog', 'add', bundle.manifestUrl)).code).toBe(0);
});

afterAll(async () => {
  for (const p of processesMentioning(home)) process.kill(p.pid, 'SIGKILL');
  await bundle?.close();
  t.cleanup();
});

describe('QEMU microvm', () => {
  it('the default for a virtio-mmio kernel: 9p root, rw share, NAT by DHCP, no PCI, then a clean stop under 5 s', async () => {
    expect((await cli('create', 'mvm', '--image', TEST_BUNDLE, '--accel', 'tcg')).code).toBe(0);
    expect((await cli('share', 'add', 'mvm', shareDir, '--tag', 'data')).code).toBe(0);
    const vm = JSON.parse((await cli('ls', '--json')).stdout) as { name: string; machine: string }[];
    expect(vm.find((v) => v.name === 'mvm')?.machine).toBe('auto');

    const engine = new Engine({ home, env });
    const tap = new ConsoleTap(engine, 'mvm');
    try {
      await engine.invoke('vms:start', { name: 'mvm' });
      await tap.attach();
      await tap.ready(120_000);
      expect(tap.text).toMatch(/oklinux-init: net eth0 10\.0\.2\.15\/24 via 10\.0\.2\.2 dhcp/);
      expect(tap.text).toMatch(/oklinux-init: mounted data on \/mnt\/data/);
      // every device on virtio-mmio, none on PCI (microvm has no PCI bus)
      await tap.run(
        'ls /sys/bus/virtio/drivers/9pnet_virtio/ | grep -c virtio; ls /sys/bus/pci/devices 2>/dev/null | wc -l',
        /^2\s+0\s*$/m,
      );
      await tap.run('grep -o "^[^ ]* / 9p" /proc/mounts', /oklinux-root \/ 9p/);
      await tap.run('echo microvm-wrote > /mnt/data/from-guest && sync');
      expect(fs.readFileSync(path.join(shareDir, 'from-guest'), 'utf8')).toBe('microvm-wrote\n');
      await tap.run('grep -c "tsc_early_khz=" /proc/cmdline', /^1\s*$/m);
    } finally {
      tap.close();
      await engine.close();
    }
    const pid = JSON.parse((await cli('ls', '--json')).stdout).find((v: { name: string }) => v.name === 'mvm').pid;
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    expect(cmdline.slice(1, 3)).toEqual(['-M', 'microvm']);
    expect(cmdline.filter((a) => /^virtio-.*-pci/.test(a))).toEqual([]);

    const stopper = new Engine({ home, env });
    try {
      const started = Date.now();
      const r = await stopper.invoke('vms:stop', { name: 'mvm' });
      const secs = (Date.now() - started) / 1000;
      console.log(`microvm stop to stopped (from the request): ${secs.toFixed(2)} s`);
      expect(r).toMatchObject({ state: 'stopped', exitSignal: null });
      expect(secs).toBeLessThan(5);
    } finally {
      await stopper.close();
    }
    expect((await cli('logs', 'mvm')).stdout).toMatch(/oklinux-init: poweroff[\r\n]+[^]*reboot: Power down/);
    expect(processesMentioning(home)).toEqual([]);
  });

  it('create --machine pc keeps the same bundle on the PC machine (PCI devices); --json shows the setting', async () => {
    const made = await cli('create', 'onpc', '--image', TEST_BUNDLE, '--accel', 'tcg', '--machine', 'pc', '--json');
    expect(made.code).toBe(0);
    expect(JSON.parse(made.stdout)).toMatchObject({ name: 'onpc', machine: 'pc' });
    const argv = JSON.parse((await cli('start', 'onpc', '--dry-run', '--json')).stdout) as string[];
    expect(argv).not.toContain('-M');
    expect(argv.some((a) => a.startsWith('virtio-9p-pci,'))).toBe(true);
    const bad = await cli('create', 'bad', '--image', TEST_BUNDLE, '--machine', 'q35');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/machine/);
  });
});
