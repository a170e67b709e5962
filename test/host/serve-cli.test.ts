import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { OKLINUX_BIN, runCli } from '../helpers/cli';
import { tmpDir } from '../helpers/tmp';
import { connect } from './ws-client';

const t = tmpDir('oklinux-serve-');
const home = path.join(t.dir, 'home');
const ui = path.join(t.dir, 'ui');
fs.mkdirSync(ui);
fs.writeFileSync(path.join(ui, 'index.html'), '<!doctype html><title>okLinux</title>');
const env = { OKLINUX_HOME: home, OKLINUX_GITHUB_API: 'http://127.0.0.1:9' };
afterAll(() => t.cleanup());

describe('oklinux serve', () => {
  it('prints the URL with its token, serves until SIGINT, then exits 0', async () => {
    const child = spawn(process.execPath, [OKLINUX_BIN, 'serve', '--no-open', '--json', '--ui', ui], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(out.split('\n')[0]!);
      });
      child.on('close', () => reject(new Error(`serve exited early: ${stderr}`)));
    });
    const { url, port } = JSON.parse(line) as { url: string; port: number };
    const page = new URL(url);
    expect(page.origin).toBe(`http://127.0.0.1:${port}`);
    const token = page.searchParams.get('token')!;
    expect(token.length).toBeGreaterThanOrEqual(43);

    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<title>okLinux</title>');

    const refused = await connect(`ws://127.0.0.1:${port}/api?token=nope`, page.origin);
    expect(refused).toMatchObject({ ok: false, status: 401 });
    const c = await connect(`ws://127.0.0.1:${port}/api?token=${token}`, page.origin);
    if (!c.ok) throw new Error(`refused: ${c.status}`);
    expect(await c.client.call('system:info', {})).toMatchObject({ result: { dataDir: home } });

    const closed = new Promise<void>((resolve) => c.client.ws.once('close', () => resolve()));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    await closed;
    const stillThere = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    expect(stillThere).toBe(false);
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
