import { afterAll, describe, expect, it } from 'vitest';
import { DoctorReport } from '@contract';
import { runCli } from '../helpers/cli';
import { tmpDir } from '../helpers/tmp';

const t = tmpDir();
afterAll(() => t.cleanup());

describe('oklinux doctor', () => {
  it('--json parses and has every field', async () => {
    const r = await runCli(['doctor', '--json'], { env: { OKLINUX_HOME: t.dir } });
    const report = DoctorReport.strict().parse(JSON.parse(r.stdout));
    expect(report.dataDir).toBe(t.dir);
    expect(report.schemaVersion).toBeGreaterThanOrEqual(1);
    expect(report.kvm.path).toBe('/dev/kvm');
    expect(report.qemu.path, 'qemu-system-x86_64 is needed: apt-get install qemu-system-x86').toMatch(
      /qemu-system-x86_64$/,
    );
    expect(report.qemu.version).toMatch(/QEMU emulator version/);
    expect(report.freeDiskBytes).toBeGreaterThan(0);
    expect(r.code).toBe(0);
  });

  it('explains networks: NAT VMs go to QEMU, and how to make a TAP for bldy (--net tap:NAME)', async () => {
    const r = await runCli(['doctor'], { env: { OKLINUX_HOME: t.dir } });
    expect(r.stdout).toMatch(/^network +nat and restricted VMs run on QEMU .*bldy refuses them/m);
    expect(r.stdout).toMatch(
      /^network +bldy \(and QEMU\) can use a TAP device you made, with --net tap:NAME; make it once, as root: "ip tuntap add dev tap0 mode tap user \S+" and "ip link set tap0 up"/m,
    );
    const report = DoctorReport.parse(
      JSON.parse((await runCli(['doctor', '--json'], { env: { OKLINUX_HOME: t.dir } })).stdout),
    );
    expect(report.network?.join('\n')).toMatch(/ip addr add 192\.168\.100\.1\/24 dev tap0/);
  });

  it('says when okLinux runs as root: a field, a line and a warning', async () => {
    expect(process.getuid?.(), 'CI runs as root; this checks the root warning').toBe(0);
    const json = DoctorReport.parse(
      JSON.parse((await runCli(['doctor', '--json'], { env: { OKLINUX_HOME: t.dir } })).stdout),
    );
    expect(json.runningAsRoot).toBe(true);
    expect(json.warnings).toEqual([expect.stringContaining('okLinux runs as root (euid 0)')]);
    const human = await runCli(['doctor'], { env: { OKLINUX_HOME: t.dir } });
    expect(human.stdout).toMatch(/^user\s+root \(euid 0\)$/m);
    expect(human.stdout).toMatch(
      /^warning\s+okLinux runs as root \(euid 0\), so a guest can make root-owned set-user-ID/m,
    );
  });

  it('prints help for every command and fails clearly on bad usage', async () => {
    const help = await runCli(['doctor', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: oklinux doctor');
    const bad = await runCli(['doctor', '--bogus'], { env: { OKLINUX_HOME: t.dir } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/oklinux: .*--bogus/);
    const unknown = await runCli(['frobnicate', '--json']);
    expect(unknown.code).toBe(2);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ error: { code: 'INVALID_INPUT' } });
  });

  it('names the data directory when it cannot be used', async () => {
    const r = await runCli(['doctor'], { env: { OKLINUX_HOME: '/proc/version/oklinux' } });
    expect(r.code).toBe(8);
    expect(r.stderr).toContain('/proc/version/oklinux');
  });
});
