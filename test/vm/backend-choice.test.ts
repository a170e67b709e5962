/**
 * Each backend is resolved on its own: with a bldy installed (the stand-in,
 * through `oklinux pull bldy`) and QEMU on PATH, a VM created `--backend qemu`
 * runs QEMU; `auto` picks QEMU for accel tcg (bldy runs only under KVM) and
 * bldy otherwise; `--backend bldy` without a bldy, or with accel tcg, fails
 * clearly. Real CLI; one real QEMU start under TCG (heavy lock).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DoctorReport, Vm } from '@contract';
import { Engine } from '@core/engine';
import { qemuBinaryName, which } from '@core/host-tools';
import { runCli } from '../helpers/cli';
import { publishBldy } from '../helpers/fake-bldy';
import { tmpDir } from '../helpers/tmp';
import { processesMentioning, serveTestBundle, vmEnv, TEST_BUNDLE, type BundleServer } from '../helpers/vm';

const t = tmpDir('oklinux-backend-');
const home = path.join(t.dir, 'home');
const bare = path.join(t.dir, 'bare'); // a data dir with no bldy
const calls = path.join(t.dir, 'bldy-calls.log');
const env = { ...vmEnv(home), FAKE_BLDY_LOG: calls };
const bareEnv = { ...vmEnv(bare), FAKE_BLDY_LOG: calls };
const cli = (...args: string[]) => runCli(args, { env });
const qemu = which(qemuBinaryName());
let bundle: BundleServer;

async function dryRun(vm: string, e: NodeJS.ProcessEnv = env): Promise<string[]> {
  const r = await runCli(['start', vm, '--dry-run', '--json'], { env: e });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as string[];
}

beforeAll(async () => {
  expect(qemu, 'qemu-system-x86_64 is needed: apt-get install qemu-system-x86').not.toBeNull();
  bundle = await serveTestBundle();
  const bldyManifest = publishBldy(bundle.server);
  for (const e of [env, bareEnv]) {
    expect((await runCli(['catalog', 'add', bundle.manifestUrl], { env: e })).code).toBe(0);
    expect((await runCli(['pull', TEST_BUNDLE], { env: e })).code).toBe(0);
  }
  expect((await cli('catalog', 'add', bldyManifest)).code).toBe(0);
  const pulled = await cli('pull', 'bldy');
  expect(pulled.code, pulled.stderr).toBe(0);
});

afterAll(async () => {
  for (const p of processesMentioning(t.dir)) process.kill(p.pid, 'SIGKILL');
  await bundle?.close();
  t.cleanup();
});

describe('backend choice with a bldy installed and QEMU on PATH', () => {
  it('a VM created --backend qemu plans and starts QEMU', async () => {
    expect((await cli('create', 'q1', '--image', TEST_BUNDLE, '--backend', 'qemu', '--accel', 'tcg')).code).toBe(0);
    const argv = await dryRun('q1');
    expect(argv[0]).toBe(qemu);
    expect(argv.slice(argv.indexOf('-accel'), argv.indexOf('-accel') + 2)).toEqual(['-accel', 'tcg']);

    const started = await cli('start', 'q1');
    expect(started.code, started.stderr).toBe(0);
    const vm = Vm.array()
      .parse(JSON.parse((await cli('ls', '--json')).stdout))
      .find((v) => v.name === 'q1')!;
    expect(vm.state).toBe('running');
    const cmdline = fs.readFileSync(`/proc/${vm.pid}/cmdline`, 'utf8').split('\0');
    expect(cmdline[0]).toBe(qemu);
    const stopped = await cli('stop', 'q1', '--force');
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(fs.existsSync(calls) ? fs.readFileSync(calls, 'utf8') : '').not.toMatch(/^run /m);
  });

  it('auto picks QEMU for accel tcg (bldy runs only under KVM), and bldy for accel kvm with no network', async () => {
    expect((await cli('create', 'a1', '--image', TEST_BUNDLE, '--accel', 'tcg')).code).toBe(0);
    const tcg = await dryRun('a1');
    expect(tcg[0]).toBe(qemu);
    expect(tcg).toContain('tcg');
    expect((await cli('create', 'a2', '--image', TEST_BUNDLE, '--accel', 'kvm', '--net', 'none')).code).toBe(0);
    expect((await dryRun('a2'))[0]).toBe(path.join(home, 'bin', 'bldy'));
  });

  it('auto picks QEMU (with KVM) for NAT and restricted networks: bldy has no user-mode networking', async () => {
    for (const [vm, net] of [
      ['n1', null],
      ['n2', 'restricted'],
    ] as const) {
      const made = await cli('create', vm, '--image', TEST_BUNDLE, '--accel', 'kvm', ...(net ? ['--net', net] : []));
      expect(made.code, made.stderr).toBe(0);
      const argv = await dryRun(vm);
      expect(argv[0]).toBe(qemu);
      expect(argv.slice(argv.indexOf('-accel'), argv.indexOf('-accel') + 2)).toEqual(['-accel', 'kvm']);
      expect(argv).toContain(net ? 'user,id=n0,restrict=on' : 'user,id=n0');
    }
  });

  it('bldy with a NAT network is refused at create, naming the fix; made for bldy, a VM has no network', async () => {
    const r = await cli('create', 'bn', '--image', TEST_BUNDLE, '--backend', 'bldy', '--net', 'nat');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'bldy cannot give the VM "bn" its network "nat": crosvm has no user-mode networking on Linux (it needs a TAP device). ' +
        'Use the QEMU backend (backend auto picks it for nat), make the VM with --net tap:NAME for a TAP device you made (make it once, as root: "ip tuntap add dev tap0 mode tap user $USER"',
    );
    expect(r.stderr).toContain('or with --net none.');
    const made = await cli('create', 'bn', '--image', TEST_BUNDLE, '--backend', 'bldy', '--json');
    expect(made.code, made.stderr).toBe(0);
    expect(Vm.parse(JSON.parse(made.stdout))).toMatchObject({ backend: 'bldy', net: 'none' });
    // the settings say bldy and the VM (auto) has NAT: refused at start, before anything runs
    const engine = new Engine({ home, env });
    try {
      await engine.invoke('settings:set', { backend: 'bldy' });
      expect((await cli('create', 'bs', '--image', TEST_BUNDLE, '--accel', 'kvm')).code).toBe(0);
      const start = await cli('start', 'bs');
      expect(start.code).toBe(7);
      expect(start.stderr).toContain('bldy cannot give the VM "bs" its network "nat"');
    } finally {
      await engine.invoke('settings:set', { backend: 'auto' });
      await engine.close();
    }
    expect(fs.existsSync(calls) ? fs.readFileSync(calls, 'utf8') : '').not.toMatch(/^run /m);
  });

  it('doctor reports the choice for the settings, and why', async () => {
    const doctor = async () => DoctorReport.parse(JSON.parse((await cli('doctor', '--json')).stdout)).vmm;
    const engine = new Engine({ home, env });
    try {
      await engine.invoke('settings:set', { accel: 'tcg' });
      expect(await doctor()).toEqual({
        chosen: 'qemu',
        path: qemu,
        reason: `bldy runs only under KVM and accel is tcg; ${qemuBinaryName()} found on PATH`,
      });
      await engine.invoke('settings:set', { accel: 'kvm' });
      expect(await doctor()).toEqual({
        chosen: 'bldy',
        path: path.join(home, 'bin', 'bldy'),
        reason: 'bldy installed by okLinux Desktop',
      });
    } finally {
      await engine.invoke('settings:set', { accel: 'auto' });
      await engine.close();
    }
  });

  it('--backend bldy with accel tcg is refused before anything runs', async () => {
    expect((await cli('create', 'b2', '--image', TEST_BUNDLE, '--backend', 'bldy', '--accel', 'tcg')).code).toBe(0);
    const r = await cli('start', 'b2');
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/Cannot start "b2" with bldy: bldy runs only under KVM, but "b2" is set to accel tcg/);
    expect(fs.existsSync(calls) ? fs.readFileSync(calls, 'utf8') : '').not.toMatch(/^run /m);
  });
});

describe('backend choice without a bldy', () => {
  it('--backend bldy fails clearly; auto uses QEMU', async () => {
    expect((await runCli(['create', 'b1', '--image', TEST_BUNDLE, '--backend', 'bldy'], { env: bareEnv })).code).toBe(
      0,
    );
    const r = await runCli(['start', 'b1'], { env: bareEnv });
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(
      /Cannot start "b1": it asks for bldy, but bldy is not installed \(set its path in settings, or "oklinux pull bldy"/,
    );
    // a dry run still shows bldy's argv, with the bare command name
    expect((await dryRun('b1', bareEnv))[0]).toBe('bldy');
    expect((await runCli(['create', 'a3', '--image', TEST_BUNDLE], { env: bareEnv })).code).toBe(0);
    expect((await dryRun('a3', bareEnv))[0]).toBe(qemu);
  });
});
