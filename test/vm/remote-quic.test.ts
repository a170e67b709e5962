/**
 * JetStream shares (9p+quic://) against real parts: diod (a real 9P2000.L server) on 127.0.0.1 behind a QUIC
 * test server built with the same library as the client (test/remote/jetstream-server.ts), a test PKI made by
 * openssl (test/remote/pki.ts), and QEMU (TCG) booting the okLinux-shaped test kernel with the bundle's
 * busybox root, through the CLI and the engine. The VM is `restricted`: the guest reaches only the
 * supervisor's relay (QEMU guestfwd -> relay client -> unix socket), which opens the QUIC connection to
 * localhost (the name in the server's certificate; /etc/hosts, no outside lookup).
 * Every guest command is waited for by its completion marker (helpers/marker.ts).
 *
 * One boot carries three shares: `q` (server certificate checked against --ca), `m` (the server requires a
 * client certificate: mTLS with --cert/--key) and `bad` (the same server as `q`, but --ca is another CA): the
 * first two mount, `bad` shows as unreachable with the TLS reason, and the VM boots all the same.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Share } from '@contract';
import { Engine } from '@core/engine';
import { runCli } from '../helpers/cli';
import { tmpDir } from '../helpers/tmp';
import { startDiod, type Diod } from '../helpers/diod';
import { sha256Hex, testBytes } from '../helpers/http';
import { ConsoleTap, processesMentioning, serveTestBundle, vmEnv, TEST_BUNDLE, type BundleServer } from '../helpers/vm';
import { makePki, requireOpenssl, type Pki } from '../remote/pki';
import { startJetstreamTestServer, type TestServer } from '../remote/jetstream-server';

const t = tmpDir('oklinux-rquic-');
const home = path.join(t.dir, 'home');
const env = vmEnv(home);
const cli = (...args: string[]) => runCli(args, { env });
const exportDir = path.join(t.dir, 'export');
const pkiDir = path.join(t.dir, 'pki');
// small: the QUIC transport's per-packet JavaScript caps it near 1 MiB/s (README)
const BLOB = testBytes(256 * 1024);
let bundle: BundleServer;
let diod: Diod;
let pki: Pki;
let plain: TestServer;
let mtls: TestServer;

beforeAll(async () => {
  requireOpenssl();
  // Linux's 9p client first attaches as "nobody": the path to the export must be traversable by others
  fs.chmodSync(t.dir, 0o755);
  fs.mkdirSync(exportDir);
  fs.writeFileSync(path.join(exportDir, 'blob'), BLOB);
  fs.mkdirSync(pkiDir, { mode: 0o700 });
  pki = makePki(pkiDir);
  bundle = await serveTestBundle();
  diod = await startDiod(exportDir);
  plain = await startJetstreamTestServer({ cert: pki.serverCert, key: pki.serverKey, forwardPort: diod.port });
  mtls = await startJetstreamTestServer({
    cert: pki.serverCert,
    key: pki.serverKey,
    clientCa: pki.ca,
    forwardPort: diod.port,
  });
  expect((await cli('catalog', 'add', bundle.manifestUrl)).code).toBe(0);
});

afterAll(async () => {
  for (const p of processesMentioning(home)) process.kill(p.pid, 'SIGKILL');
  await plain?.stop();
  await mtls?.stop();
  await diod?.stop();
  await bundle?.close();
  t.cleanup();
});

const MOUNTED = (tag: string, p: string) => new RegExp(`oklinux-init: remote ${tag} mounted on ${p}\\r*\\n`);
/** The base64 body of a PEM key: what must never leave the supervisor's memory. */
const keyBody = (file: string) =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('-----'))
    .join('');

describe('9p+quic shares (JetStream test server -> diod on 127.0.0.1, restricted VM)', () => {
  it('the guest reads a host file (sha256) and writes one back, with and without mTLS; a wrong CA leaves that share unreachable and the VM boots', async () => {
    expect(
      (await cli('create', 'q1', '--image', TEST_BUNDLE, '--accel', 'tcg', '--memory', '256', '--net', 'restricted'))
        .code,
    ).toBe(0);
    const add = async (url: string, ...rest: string[]) => {
      const r = await cli('share', 'add', 'q1', url, ...rest, '--json');
      expect(r.code, r.stderr).toBe(0);
      return Share.parse(JSON.parse(r.stdout));
    };
    const q = await add(`9p+quic://localhost:${plain.port}${exportDir}`, '--ca', pki.ca, '--tag', 'q');
    expect(q.remote).toEqual({
      url: `9p+quic://localhost:${plain.port}${exportDir}`,
      state: 'idle',
      problem: null,
      tls: { ca: fs.realpathSync(pki.ca) },
    });
    const m = await add(
      `9p+quic://localhost:${mtls.port}${exportDir}`,
      '--ca',
      pki.ca,
      '--cert',
      pki.clientCert,
      '--key',
      pki.clientKey,
      '--tag',
      'm',
    );
    expect(m.remote?.tls).toEqual({
      ca: fs.realpathSync(pki.ca),
      cert: fs.realpathSync(pki.clientCert),
      key: fs.realpathSync(pki.clientKey),
    });
    // a CA that did not sign the server's certificate: accepted at add (it is a valid CA), refused by TLS
    await add(`9p+quic://localhost:${plain.port}/`, '--ca', pki.otherCa, '--tag', 'bad', '--guest-path', '/mnt/bad');

    const engine = new Engine({ home, env });
    const tap = new ConsoleTap(engine, 'q1');
    try {
      const vm = await engine.invoke('vms:start', { name: 'q1' });
      expect(vm.state).toBe('running');
      await tap.attach();
      await tap.ready(180_000);
      const argv = fs.readFileSync(`/proc/${vm.pid}/cmdline`, 'utf8').split('\0');
      expect(argv[argv.indexOf('-append') + 1]).toContain(
        `oklinux.remote=q:/mnt/q:10.0.2.100:trans=tcp,port=564,version=9p2000.L,aname=${exportDir},msize=131072`,
      );
      await tap.waitFor(MOUNTED('q', '/mnt/q'));
      await tap.waitFor(MOUNTED('m', '/mnt/m'));
      await tap.waitFor(/oklinux-init: remote bad failed: [^\r\n]+\r*\n/);
      await tap.run('sha256sum /mnt/q/blob', new RegExp(sha256Hex(BLOB)), 90_000);
      await tap.run('sha256sum /mnt/m/blob', new RegExp(sha256Hex(BLOB)), 90_000);
      await tap.run('echo written-over-quic > /mnt/q/back.txt; echo mtls > /mnt/m/back-m.txt; sync');
      expect(fs.readFileSync(path.join(exportDir, 'back.txt'), 'utf8')).toBe('written-over-quic\n');
      expect(fs.readFileSync(path.join(exportDir, 'back-m.txt'), 'utf8')).toBe('mtls\n');

      const ls = await cli('share', 'ls', 'q1', '--json');
      const states = Object.fromEntries((JSON.parse(ls.stdout) as Share[]).map((s) => [s.tag, s.remote]));
      expect(states.q?.state).toBe('mounted');
      expect(states.m?.state).toBe('mounted');
      expect(states.bad).toMatchObject({ state: 'unreachable' });
      expect(states.bad?.problem).toMatch(
        new RegExp(
          `localhost:${plain.port}: the server's certificate is not signed by the CA in .*otherca\\.crt \\(--ca\\)`,
        ),
      );
      const human = await cli('share', 'ls', 'q1');
      expect(human.stdout).toMatch(/q .* mounted/);
      expect(human.stdout).toMatch(/bad .* unreachable: localhost:\d+: the server's certificate is not signed/);

      // the key's contents are in no process's argv or environment (supervisor, QEMU, relay clients)
      const body = keyBody(pki.clientKey);
      const procs = processesMentioning(home);
      expect(procs.length).toBeGreaterThanOrEqual(2);
      for (const p of procs) {
        const cmd = fs.readFileSync(`/proc/${p.pid}/cmdline`, 'utf8');
        const environ = fs.readFileSync(`/proc/${p.pid}/environ`, 'utf8');
        expect(cmd).not.toContain(body.slice(0, 40));
        expect(environ).not.toContain(body.slice(0, 40));
        expect(cmd).not.toContain('PRIVATE KEY');
        expect(environ).not.toContain('PRIVATE KEY');
      }
    } finally {
      tap.close();
      await engine.invoke('vms:stop', { name: 'q1' }).catch(() => undefined);
      await engine.close();
    }
    // nor in the data directory: the database, the plans, the logs
    const body = keyBody(pki.clientKey);
    const walk = (d: string): string[] =>
      fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => {
        const p = path.join(d, e.name);
        return e.isDirectory() ? walk(p) : e.isFile() ? [p] : [];
      });
    for (const f of walk(home)) {
      const bytes = fs.readFileSync(f);
      expect(bytes.includes(body.slice(0, 40)), f).toBe(false);
    }
    expect((await cli('share', 'ls', 'q1', '--json')).stdout).not.toContain('mounted');
  });

  it('a key opened to other users since the add: at the next start that share is unreachable, naming the fix; the VM boots', async () => {
    fs.chmodSync(pki.clientKey, 0o644);
    const engine = new Engine({ home, env });
    const tap = new ConsoleTap(engine, 'q1');
    try {
      expect((await engine.invoke('vms:start', { name: 'q1' })).state).toBe('running');
      await tap.attach();
      await tap.ready(180_000);
      await tap.waitFor(MOUNTED('q', '/mnt/q'));
      await tap.waitFor(/oklinux-init: remote m failed: [^\r\n]+\r*\n/);
      const ls = await cli('share', 'ls', 'q1', '--json');
      const m = (JSON.parse(ls.stdout) as Share[]).find((s) => s.tag === 'm')!;
      expect(m.remote?.state).toBe('unreachable');
      expect(m.remote?.problem).toBe(
        `client key ${fs.realpathSync(pki.clientKey)} (--key) can be read or written by other users (mode 644): ` +
          `run chmod 600 ${fs.realpathSync(pki.clientKey)}`,
      );
      await tap.run('cat /mnt/q/back.txt', /written-over-quic/, 60_000);
    } finally {
      tap.close();
      await engine.invoke('vms:stop', { name: 'q1' }).catch(() => undefined);
      await engine.close();
      fs.chmodSync(pki.clientKey, 0o600);
    }
  });
});
