/**
 * Guest networking against real QEMU (TCG) booting the okLinux-shaped test kernel (VIRTIO_NET,
 * INET, PACKET built in) with the bundle's busybox root, through the CLI and the engine.
 *
 * Guest traffic goes only to this host's loopback: a test HTTP server on 127.0.0.1, reached as
 * 10.0.2.2 (QEMU user-mode networking's gateway). Only IP literals are used: no name is looked up.
 * Every guest command is waited for by its completion marker (helpers/marker.ts), never a prompt.
 * The published port is checked from the host with curl against busybox httpd in the guest.
 */
import fs from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Vm } from '@contract';
import { Engine } from '@core/engine';
import { which } from '@core/host-tools';
import { runCli } from '../helpers/cli';
import { sha256Hex, startTestServer, testBytes, type TestServer } from '../helpers/http';
import { tmpDir } from '../helpers/tmp';
import { ConsoleTap, processesMentioning, serveTestBundle, vmEnv, TEST_BUNDLE, type BundleServer } from '../helpers/vm';

const t = tmpDir('oklinux-net-');
const home = path.join(t.dir, 'home');
const env = vmEnv(home);
const cli = (...args: string[]) => runCli(args, { env });
let bundle: BundleServer;
let files: TestServer;
const BLOB = testBytes(3 * 1024 * 1024 + 17, 7);
const BLOB_SHA = sha256Hex(BLOB);
/** The test server's port: the guest reaches it at 10.0.2.2:PORT. */
let port: number;

const NET_LINE = /oklinux-init: net eth0 10\.0\.2\.15\/24 via 10\.0\.2\.2 (dhcp|static)\r*\n/;

beforeAll(async () => {
  bundle = await serveTestBundle();
  files = await startTestServer();
  files.route('/blob', { body: BLOB });
  port = Number(new URL(files.origin).port);
  expect((await cli('catalog', 'add', bundle.manifestUrl)).code).toBe(0);
});

afterAll(async () => {
  for (const p of processesMentioning(home)) process.kill(p.pid, 'SIGKILL');
  await files?.close();
  await bundle?.close();
  t.cleanup();
});

async function create(name: string, ...args: string[]): Promise<Vm> {
  const r = await cli('create', name, '--image', TEST_BUNDLE, '--accel', 'tcg', '--memory', '256', '--json', ...args);
  expect(r.code, r.stderr).toBe(0);
  return Vm.parse(JSON.parse(r.stdout));
}

/** A TCP port free on 127.0.0.1 just now. */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port: p } = s.address() as AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return p;
}

/** The host's curl (as a person would use it), with a bound on its time. */
function curl(url: string): { status: number | null; stdout: string; stderr: string } {
  if (!which('curl')) throw new Error('curl is needed on the host: apt-get install curl');
  const r = spawnSync('curl', ['-sS', '--max-time', '20', url], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The VMM's argv, as it runs. */
function runningArgv(vm: Vm): string[] {
  return fs.readFileSync(`/proc/${vm.pid}/cmdline`, 'utf8').split('\0');
}

/**
 * Start `name`, attach a console tap (each chunk's arrival time kept), wait for the shell, run
 * `body`, then stop the VM.
 */
async function withVm(
  name: string,
  body: (tap: ConsoleTap, vm: Vm, arrivals: { at: number; end: number }[]) => Promise<void>,
): Promise<void> {
  const engine = new Engine({ home, env });
  const arrivals: { at: number; end: number }[] = [];
  const tap = new ConsoleTap(engine, name);
  const off = engine.onEvent((e) => {
    if (e.type === 'console:data' && e.vm === name) arrivals.push({ at: Date.now(), end: tap.text.length });
  });
  try {
    const vm = await engine.invoke('vms:start', { name });
    expect(vm.state).toBe('running');
    await tap.attach();
    await tap.ready();
    await body(tap, vm, arrivals);
  } finally {
    off();
    tap.close();
    await engine.invoke('vms:stop', { name }).catch(() => undefined);
    await engine.close();
  }
}

/** When the console text first held `re` (from the arrival times of its chunks). */
function seenAt(text: string, arrivals: { at: number; end: number }[], re: RegExp): number {
  const m = re.exec(text);
  if (!m) throw new Error(`the console never showed ${re}`);
  const end = m.index + m[0].length;
  const chunk = arrivals.find((a) => a.end >= end);
  if (!chunk) throw new Error(`no arrival time for ${re} (it came with the attach tail)`);
  return chunk.at;
}

describe('NAT (the default)', () => {
  it('the guest gets 10.0.2.15 by DHCP, a managed resolv.conf, and fetches a host file whose SHA-256 it checks', async () => {
    const vm = await create('nat');
    expect(vm.net).toBe('nat');
    await withVm('nat', async (tap, running) => {
      expect(runningArgv(running)).toEqual(
        expect.arrayContaining(['-netdev', 'user,id=n0', '-device', 'virtio-net-pci,netdev=n0,romfile=']),
      );
      // one stable line, once
      expect(tap.text.match(new RegExp(NET_LINE.source, 'g'))).toEqual([
        expect.stringMatching(/ via 10\.0\.2\.2 dhcp\r*\n$/),
      ]);
      // the address the guest reported, as every front end sees it (ls --json: the contract's Vm)
      const listed = JSON.parse((await cli('ls', '--json')).stdout) as Vm[];
      expect(listed.find((v) => v.name === 'nat')?.guestAddress).toBe('10.0.2.15/24');
      await tap.run('ip -4 addr show dev eth0', /inet 10\.0\.2\.15\/24/);
      await tap.run('ip route', /default via 10\.0\.2\.2 dev eth0/);
      const resolv = await tap.run('cat /etc/resolv.conf');
      expect(resolv.replace(/\r/g, '')).toContain(
        '# BEGIN okLinux Desktop network (managed: edits here are replaced at each boot)\n' +
          'nameserver 10.0.2.3\n' +
          '# END okLinux Desktop network\n',
      );
      const sum = await tap.run(
        `timeout 60 wget -q -O /tmp/blob http://10.0.2.2:${port}/blob && sha256sum /tmp/blob`,
        /[0-9a-f]{64} {2}\/tmp\/blob/,
        120_000,
      );
      expect(sum.slice(0, 64)).toBe(BLOB_SHA);
      expect(files.requestsTo('/blob')).toHaveLength(1);
    });
  });

  it('without a DHCP answer within 3 s it falls back to the static address, keeping the rest of resolv.conf', async () => {
    // a udhcpc that never answers, found before busybox's on PATH; and a line of the user's own
    const root = path.join(home, 'vms', 'nat', 'root');
    fs.mkdirSync(path.join(root, 'usr', 'local', 'sbin'), { recursive: true });
    fs.writeFileSync(
      path.join(root, 'usr', 'local', 'sbin', 'udhcpc'),
      // it stamps its start and its end with the guest's clock, which the host's load does not stretch the
      // way it delays the console's bytes
      '#!/bin/sh\n' +
        'read -r t _ </proc/uptime; echo "fake-udhcpc-started $t" >/dev/console\n' +
        'trap \'read -r t _ </proc/uptime; echo "fake-udhcpc-ended $t" >/dev/console; kill $!; exit 0\' TERM\n' +
        'sleep 60 &\nwait\n',
      { mode: 0o755 },
    );
    fs.appendFileSync(path.join(root, 'etc', 'resolv.conf'), 'options timeout:1\n');
    try {
      await withVm('nat', async (tap, _vm, arrivals) => {
        const hostWaited = seenAt(tap.text, arrivals, NET_LINE) - seenAt(tap.text, arrivals, /fake-udhcpc-started/);
        expect(NET_LINE.exec(tap.text)![1]).toBe('static');
        const [, from, to] =
          /fake-udhcpc-started ([\d.]+)\r*\n[^]*fake-udhcpc-ended ([\d.]+)\r*\n/.exec(tap.text) ?? [];
        expect(from, 'the silent client was started, then ended by oklinux-init').toBeDefined();
        const waited = Number(to) - Number(from);
        console.log(
          `net: gave up on a silent DHCP client after ${waited.toFixed(2)} s of guest time (${hostWaited} ms between their console lines on the host)`,
        );
        // it gave DHCP its time, and no more than about 3 s (the client starts a moment after the clock does)
        expect(waited).toBeGreaterThanOrEqual(1.5);
        expect(waited).toBeLessThan(4.5);
        await tap.run('ip -4 addr show dev eth0', /inet 10\.0\.2\.15\/24/);
        // the hung client was ended
        const ps = await tap.run('ps');
        expect(ps).not.toMatch(/sleep 60/);
        const resolv = (await tap.run('cat /etc/resolv.conf')).replace(/\r/g, '');
        expect(resolv.match(/BEGIN okLinux Desktop network/g)).toHaveLength(1);
        expect(resolv).toContain('options timeout:1\n');
        expect(resolv).toContain('nameserver 10.0.2.3\n');
        const sum = await tap.run(
          `timeout 60 wget -q -O /tmp/blob http://10.0.2.2:${port}/blob && sha256sum /tmp/blob`,
          /[0-9a-f]{64} {2}\/tmp\/blob/,
          120_000,
        );
        expect(sum.slice(0, 64)).toBe(BLOB_SHA);
      });
    } finally {
      fs.rmSync(path.join(root, 'usr', 'local', 'sbin', 'udhcpc'));
    }
  });
});

describe('--net none', () => {
  it('has no eth0 (no network device at all), only lo, and says so on the console', async () => {
    const vm = await create('off', '--net', 'none');
    expect(vm.net).toBe('none');
    await withVm('off', async (tap, running) => {
      expect(runningArgv(running).filter((a) => a === '-netdev' || a.includes('virtio-net'))).toEqual([]);
      await tap.waitFor(/oklinux-init: net none\r*\n/);
      // lo, and the kernel's own IPv6-in-IPv4 tunnel (sit0) when it has one: no device to any network
      const ls = (await tap.run('ls /sys/class/net')).trim().split(/\s+/);
      expect(ls).toContain('lo');
      expect(ls.filter((d) => !/^(lo|sit\d+)$/.test(d))).toEqual([]);
      await tap.run('ip -4 addr show dev lo', /inet 127\.0\.0\.1\/8/);
      const listed = JSON.parse((await cli('ls', '--json')).stdout) as Vm[];
      expect(listed.find((v) => v.name === 'off')?.guestAddress).toBeNull();
      // a guest printing the line itself changes only what is shown, and only to a well-formed address
      await tap.run(`printf 'oklinux-init: net eth0 10.9.8.7/16 via x dhcp\\n'`);
      await tap.run(`printf 'oklinux-init: net eth0 999.1.1.1/24 via x dhcp\\n<b>\\n'`);
      const after = JSON.parse((await cli('ls', '--json')).stdout) as Vm[];
      expect(after.find((v) => v.name === 'off')?.guestAddress).toBe('10.9.8.7/16');
    });
    const stopped = JSON.parse((await cli('ls', '--json')).stdout) as Vm[];
    expect(stopped.find((v) => v.name === 'off')?.guestAddress).toBeNull();
  });
});

describe('--net restricted, with a published port', () => {
  it('gets its address but reaches nothing outside the VM (not the host, no nameserver); its published port reaches the guest', async () => {
    const hostPort = await freePort();
    const vm = await create('jail', '--net', 'restricted', '--publish', `${hostPort}:8080`);
    expect(vm.net).toBe('restricted');
    const before = files.requestsTo('/blob').length;
    await withVm('jail', async (tap, running) => {
      expect(runningArgv(running)).toContain(`user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:${hostPort}-:8080`);
      // a listener in the guest (busybox httpd daemonizes once it listens), reached from the host with curl
      await tap.run(
        'mkdir -p /tmp/www && echo served-from-guest > /tmp/www/hello.txt && httpd -p 8080 -h /tmp/www && echo HTTPD-""UP',
        /HTTPD-UP/,
      );
      const fetched = curl(`http://127.0.0.1:${hostPort}/hello.txt`);
      expect(fetched.status, fetched.stderr).toBe(0);
      expect(fetched.stdout).toBe('served-from-guest\n');
      // a port added while it runs waits for the next start
      const add = await cli('port', 'add', 'jail', '127.0.0.1:18081:8081', '--json');
      expect(add.code, add.stderr).toBe(0);
      expect(JSON.parse(add.stdout)).toMatchObject({ hostPort: 18081, pending: true });
      expect(Vm.parse(JSON.parse((await cli('ls', '--json')).stdout).find((v: Vm) => v.name === 'jail'))).toMatchObject(
        { pendingRestart: true },
      );
      expect((await cli('port', 'rm', 'jail', '18081')).code).toBe(0);
      await tap.waitFor(/oklinux-init: net eth0 10\.0\.2\.15\/24 via 10\.0\.2\.2 dhcp\r*\n/);
      // refused (or, were packets dropped, ended by timeout: 143); never fetched, and not a crash (139)
      const got = await tap.run(
        `timeout 15 wget -q -O /tmp/blob http://10.0.2.2:${port}/blob 2>&1; echo "wget-""rc=$?"`,
        undefined,
        60_000,
      );
      const rc = Number(/wget-rc=(\d+)/.exec(got)?.[1]);
      expect([1, 143], got).toContain(rc);
      expect(got).not.toMatch(/Segmentation fault/);
      const resolv = await tap.run('cat /etc/resolv.conf 2>/dev/null; echo END-""RESOLV', /[\s\S]*END-RESOLV/);
      expect(resolv).not.toContain('nameserver');
    });
    expect(files.requestsTo('/blob').length).toBe(before);
  });
});

describe('a taken host port', () => {
  it('is refused before anything boots, naming it and the fix', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const taken = (holder.address() as AddressInfo).port;
    try {
      await create('busy', '--publish', `${taken}:80`);
      const r = await cli('start', 'busy');
      expect(r.code).toBe(4);
      expect(r.stderr).toContain(
        `The VM "busy" publishes the host port 127.0.0.1:${taken}/tcp, but another program on this computer is using it.`,
      );
      const vm = Vm.parse(JSON.parse((await cli('ls', '--json')).stdout).find((v: Vm) => v.name === 'busy'));
      expect(vm).toMatchObject({ state: 'stopped', pid: null });
      expect(vm.lastError).toContain(`127.0.0.1:${taken}/tcp`);
      expect(processesMentioning(path.join(home, 'run')).filter((p) => /qemu-system/.test(p.cmd))).toEqual([]);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });
});
