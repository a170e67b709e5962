import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { OKLINUX_BIN, runCli } from '../helpers/cli';
import { tmpDir } from '../helpers/tmp';
import { connect } from './ws-client';

const t = tmpDir('oklinux-serve-');
// Other users may walk up to the data directory: only serve's own modes keep them out.
fs.chmodSync(t.dir, 0o755);
const home = path.join(t.dir, 'home');
const ui = path.join(t.dir, 'ui');
const bin = path.join(t.dir, 'bin');
fs.mkdirSync(ui);
fs.mkdirSync(bin, { mode: 0o755 });
fs.writeFileSync(path.join(ui, 'index.html'), '<!doctype html><title>okLinux</title>');
const env = { OKLINUX_HOME: home, OKLINUX_GITHUB_API: 'http://127.0.0.1:9' };
const openers: number[] = [];
afterAll(() => {
  for (const pid of openers) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  t.cleanup();
});

/** A stand-in browser: records how it was called, then stays alive (as a real browser would), argv and all. */
function stubOpener(name: string): { program: string; record: string } {
  const program = path.join(bin, name);
  const record = path.join(t.dir, `${name}.called`);
  fs.writeFileSync(
    program,
    `#!/bin/sh\nprintf '%s\\n' "$$" "$#" "$@" > "${record}.tmp"\nmv "${record}.tmp" "${record}"\nsleep 600\n`,
    {
      mode: 0o755,
    },
  );
  return { program, record };
}

async function calledWith(record: string): Promise<string[]> {
  for (let i = 0; i < 200 && !fs.existsSync(record); i++) await new Promise((r) => setTimeout(r, 50));
  expect(fs.existsSync(record), 'the opener was never started').toBe(true);
  const [pid, argc, ...argv] = fs.readFileSync(record, 'utf8').trimEnd().split('\n');
  openers.push(Number(pid));
  expect(argv).toHaveLength(Number(argc));
  return argv;
}

interface Served {
  child: ChildProcess;
  url: string;
  port: number;
  page: string;
  token: string;
  exited: Promise<number | null>;
}

/** `oklinux serve --json …` as a child process, once it printed its line. */
async function serve(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Served> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env, ...extraEnv };
  if (!('OKLINUX_BROWSER' in extraEnv)) delete childEnv.OKLINUX_BROWSER;
  const child = spawn(process.execPath, [OKLINUX_BIN, 'serve', '--json', '--ui', ui, ...args], {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.on('close', () => reject(new Error(`serve exited early: ${stderr}`)));
  });
  const { url, port, page } = JSON.parse(line) as { url: string; port: number; page: string };
  return { child, url, port, page, token: new URL(url).searchParams.get('token')!, exited };
}

/** Run a shell script as nobody (uid 65534, no groups): another local user. */
function asNobody(script: string): { status: number | null; stdout: string } {
  expect(process.getuid?.(), 'acting as another user (setpriv) needs root, as in CI').toBe(0);
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', script], {
    cwd: '/',
    encoding: 'latin1',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout };
}

/** Everything another user can read of every process's command line and environment. */
function procAsNobody(): string {
  const all = 'for f in /proc/[0-9]*/cmdline /proc/[0-9]*/environ; do cat "$f" 2>/dev/null; echo; done';
  return asNobody(all).stdout;
}

/** No string another user could read opens the WebSocket: not the token, nor anything shaped like one. */
async function expectNoUsableToken(s: Served, dump: string): Promise<void> {
  expect(dump.includes(s.token)).toBe(false);
  const candidates = new Set<string>();
  for (const m of dump.matchAll(/(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g)) candidates.add(m[0]);
  for (const m of dump.matchAll(/token=([^&\s\0#]+)/g)) candidates.add(decodeURIComponent(m[1]!));
  const origin = `http://127.0.0.1:${s.port}`;
  for (const c of candidates) {
    const r = await connect(`ws://127.0.0.1:${s.port}/api?token=${encodeURIComponent(c)}`, origin);
    expect(r.ok, `a string readable in /proc opened the WebSocket: ${c}`).toBe(false);
  }
}

async function stop(s: Served): Promise<void> {
  s.child.kill('SIGINT');
  expect(await s.exited).toBe(0);
}

describe('oklinux serve', () => {
  it('prints the URL with its token, serves until SIGINT, then exits 0', async () => {
    const s = await serve(['--no-open']);
    const page = new URL(s.url);
    expect(page.origin).toBe(`http://127.0.0.1:${s.port}`);
    expect(s.token.length).toBeGreaterThanOrEqual(43);

    const res = await fetch(s.url);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<title>okLinux</title>');

    const refused = await connect(`ws://127.0.0.1:${s.port}/api?token=nope`, page.origin);
    expect(refused).toMatchObject({ ok: false, status: 401 });
    const c = await connect(`ws://127.0.0.1:${s.port}/api?token=${s.token}`, page.origin);
    if (!c.ok) throw new Error(`refused: ${c.status}`);
    expect(await c.client.call('system:info', {})).toMatchObject({ result: { dataDir: home } });

    const closed = new Promise<void>((resolve) => c.client.ws.once('close', () => resolve()));
    await stop(s);
    await closed;
    const stillThere = await new Promise<boolean>((resolve) => {
      const sock = net.connect(s.port, '127.0.0.1');
      sock.once('connect', () => (sock.destroy(), resolve(true)));
      sock.once('error', () => resolve(false));
    });
    expect(stillThere).toBe(false);
  });

  it('opens the browser on a private page, so no other user can read the token in any argv or environment', async () => {
    const xdg = stubOpener('xdg-open'); // the default opener, found on PATH
    const s = await serve([], { PATH: `${bin}:${process.env.PATH}` });
    const argv = await calledWith(xdg.record);
    const dump = procAsNobody();
    expect(dump).toContain(`${xdg.program}\0${argv[0]}`); // nobody does see the browser's command line…
    await expectNoUsableToken(s, dump); // …but nothing in it, or anywhere, opens the WebSocket
    expect(argv).toEqual([s.page]);
    const file = fileURLToPath(s.page);
    expect(path.dirname(file)).toBe(path.join(home, 'run', 'serve'));

    // The page leads to the tokened URL, and only its owner can read it.
    expect(fs.readFileSync(file, 'utf8')).toContain(`<meta http-equiv="refresh" content="0;url=${s.url}">`);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    for (const d of [home, path.join(home, 'run')]) fs.chmodSync(d, 0o755);
    expect(asNobody(`cat '${file}'`).status).not.toBe(0);
    fs.chmodSync(path.dirname(file), 0o755); // even with its folder opened up, the page itself is 0600
    expect(asNobody(`cat '${file}'`).status).not.toBe(0);
    fs.chmodSync(path.dirname(file), 0o700);

    await stop(s);
    expect(fs.existsSync(file)).toBe(false); // removed when serve exits
  });

  it('$OKLINUX_BROWSER gets exactly one argument, the private page, and no token', async () => {
    const own = stubOpener('my-browser');
    const s = await serve([], { OKLINUX_BROWSER: own.program });
    expect(await calledWith(own.record)).toEqual([s.page]);
    expect(s.page).toBe(`file://${path.join(home, 'run', 'serve', `open-${s.port}.html`)}`);
    await expectNoUsableToken(s, procAsNobody());
    await stop(s);
    expect(fs.existsSync(fileURLToPath(s.page))).toBe(false);
  });

  it('refuses to change a program setting (bldyPath) over the WebSocket, and changes nothing', async () => {
    const bldy = path.join(bin, 'bldy');
    fs.writeFileSync(bldy, '#!/bin/sh\necho bldy 1.0\n', { mode: 0o755 });
    const s = await serve(['--no-open']);
    const origin = `http://127.0.0.1:${s.port}`;
    const c = await connect(`ws://127.0.0.1:${s.port}/api?token=${s.token}`, origin);
    if (!c.ok) throw new Error(`refused: ${c.status}`);
    for (const patch of [
      { bldyPath: bldy },
      { bldyPath: '/tmp/evil.sh' },
      { bldyPath: null },
      { backend: 'bldy', bldyPath: bldy },
    ]) {
      expect(await c.client.call('settings:set', patch)).toMatchObject({
        error: {
          code: 'INVALID_INPUT',
          message: expect.stringMatching(
            /bldyPath names a program okLinux runs, so it cannot be changed from a browser page\. Set it in a terminal with "oklinux config set bldyPath PATH"/,
          ),
        },
      });
    }
    // other settings still change from the browser
    expect(await c.client.call('settings:set', { accel: 'tcg' })).toMatchObject({
      result: { accel: 'tcg', bldyPath: null },
    });
    await c.client.close();
    await stop(s);
    const stored = await runCli(['config', 'get', '--json'], { env });
    expect(JSON.parse(stored.stdout)).toMatchObject({ bldyPath: null, backend: 'auto', accel: 'tcg' });
    // the same file is accepted from the terminal
    const set = await runCli(['config', 'set', 'bldyPath', bldy, '--json'], { env });
    expect([set.code, JSON.parse(set.stdout).bldyPath]).toEqual([0, bldy]);
  });

  it('fails clearly on a bad port, a busy port, or a UI that is not built', async () => {
    const bad = await runCli(['serve', '--no-open', '--port', 'eighty', '--ui', ui], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--port must be a number');

    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', () => resolve()));
    const busyPort = (busy.address() as net.AddressInfo).port;
    const inUse = await runCli(['serve', '--no-open', '--port', String(busyPort), '--ui', ui], { env });
    await new Promise<void>((resolve) => busy.close(() => resolve()));
    expect(inUse.code).toBe(4);
    expect(inUse.stderr).toContain(`Port ${busyPort} on 127.0.0.1 is already in use`);

    const missing = path.join(t.dir, 'not-built');
    const noUi = await runCli(['serve', '--no-open', '--ui', missing], { env });
    expect(noUi.code).toBe(3);
    expect(noUi.stderr).toContain(path.join(missing, 'index.html'));
    expect(noUi.stderr).toContain('npm run build');
  });
});
