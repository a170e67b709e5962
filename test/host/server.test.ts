import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '@core/engine';
import { startHost, type Host } from '../../src-main/host/server';
import { tmpDir } from '../helpers/tmp';
import { connect, rawGet, type WsClient } from './ws-client';

const t = tmpDir('oklinux-host-');
const home = path.join(t.dir, 'home');
const ui = path.join(t.dir, 'ui');
const INDEX = '<!doctype html><title>okLinux</title><script type="module" src="./assets/app.js"></script>';
const SECRET = 'the-secret-next-to-the-ui';

let engine: Engine;
let host: Host;
let origin: string;
const wsUrl = (token: string | null): string =>
  `ws://127.0.0.1:${host.port}/api${token === null ? '' : `?token=${encodeURIComponent(token)}`}`;

beforeAll(async () => {
  fs.mkdirSync(path.join(ui, 'assets', 'fonts'), { recursive: true });
  fs.writeFileSync(path.join(ui, 'index.html'), INDEX);
  fs.writeFileSync(path.join(ui, 'assets', 'app.js'), 'console.log(1);\n');
  fs.writeFileSync(path.join(ui, 'assets', 'app.css'), 'body{}\n');
  fs.writeFileSync(path.join(ui, 'assets', 'fonts', 'mono.woff2'), Buffer.from([0x77, 0x4f, 0x46, 0x32]));
  fs.writeFileSync(path.join(t.dir, 'secret.txt'), SECRET);
  engine = new Engine({ home, env: { ...process.env, OKLINUX_GITHUB_API: 'http://127.0.0.1:9' } });
  host = await startHost({ engine, staticDir: ui });
  origin = `http://127.0.0.1:${host.port}`;
});

afterAll(async () => {
  await host.close();
  await engine.close();
  t.cleanup();
});

async function open(): Promise<WsClient> {
  const c = await connect(wsUrl(host.token), origin);
  if (!c.ok) throw new Error(`refused: ${c.status} ${c.body}`);
  return c.client;
}

describe('browser host: static files', () => {
  it('prints a 127.0.0.1 URL carrying a long random token', () => {
    expect(host.url).toBe(`http://127.0.0.1:${host.port}/?token=${host.token}`);
    expect(host.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('serves the page with a strict CSP, with or without the token, and leaks nothing', async () => {
    for (const p of ['/', '/index.html', `/?token=${host.token}`]) {
      const r = await rawGet(host.port, p, { Host: `127.0.0.1:${host.port}` });
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(r.body).toBe(INDEX);
      const csp = r.headers['content-security-policy'] as string;
      expect(csp).toContain("default-src 'none'");
      expect(csp).toMatch(/script-src 'self'(;|$)/);
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain(`connect-src 'self' ws://127.0.0.1:${host.port} ws://localhost:${host.port}`);
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      expect(r.headers['referrer-policy']).toBe('no-referrer');
      expect(r.body).not.toContain(host.token);
    }
  });

  it('sends the right MIME types', async () => {
    const types = {
      '/assets/app.js': 'text/javascript; charset=utf-8',
      '/assets/app.css': 'text/css; charset=utf-8',
      '/assets/fonts/mono.woff2': 'font/woff2',
    };
    for (const [p, type] of Object.entries(types)) {
      const r = await rawGet(host.port, p, { Host: `127.0.0.1:${host.port}` });
      expect([p, r.status, r.headers['content-type']]).toEqual([p, 200, type]);
    }
    const head = await rawGet(host.port, '/assets/app.js', { Host: `localhost:${host.port}` }, 'HEAD');
    expect([head.status, head.body]).toEqual([200, '']);
  });

  it('never lists a directory and answers 404 for what is not there', async () => {
    for (const p of ['/assets', '/assets/', '/assets/fonts/', '/nope.js']) {
      const r = await rawGet(host.port, p, { Host: `127.0.0.1:${host.port}` });
      expect([p, r.status]).toEqual([p, 404]);
      expect(r.body).not.toContain('app.js');
    }
  });

  it('refuses path traversal, plain or encoded', async () => {
    const attempts = [
      '/../secret.txt',
      '/assets/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/..%5csecret.txt',
      '/%2e%2e%2f%2e%2e%2fetc/passwd',
      '/%00index.html',
      '/%E0%A4%A',
    ];
    for (const p of attempts) {
      const r = await rawGet(host.port, p, { Host: `127.0.0.1:${host.port}` });
      expect([p, r.status]).toEqual([p, 400]);
      expect(r.body).not.toContain(SECRET);
      expect(r.body).not.toContain('root:');
    }
  });

  it('does not follow a symlink in the UI directory that points outside it, to a file or a folder', async () => {
    const outside = path.join(t.dir, 'outside');
    fs.mkdirSync(outside, { recursive: true });
    fs.writeFileSync(path.join(outside, 'key.txt'), SECRET);
    fs.symlinkSync(path.join(t.dir, 'secret.txt'), path.join(ui, 'leak.txt'));
    fs.symlinkSync(outside, path.join(ui, 'assets', 'elsewhere'));
    fs.symlinkSync('../../secret.txt', path.join(ui, 'assets', 'relative.js'));
    // a link that stays inside the UI directory is still served
    fs.symlinkSync('app.js', path.join(ui, 'assets', 'alias.js'));
    for (const p of ['/leak.txt', '/assets/elsewhere/key.txt', '/assets/relative.js', '/assets/elsewhere/']) {
      for (const method of ['GET', 'HEAD']) {
        const r = await rawGet(host.port, p, { Host: `127.0.0.1:${host.port}` }, method);
        expect([p, method, r.status]).toEqual([p, method, 404]);
        expect(r.body).not.toContain(SECRET);
      }
    }
    const alias = await rawGet(host.port, '/assets/alias.js', { Host: `127.0.0.1:${host.port}` });
    expect([alias.status, alias.body]).toEqual([200, 'console.log(1);\n']);
  });

  it('answers only requests addressed to itself, and only GET and HEAD', async () => {
    const foreign = await rawGet(host.port, '/', { Host: 'attacker.example' });
    expect(foreign.status).toBe(403);
    expect(foreign.body).not.toContain('okLinux');
    const post = await rawGet(host.port, '/', { Host: `127.0.0.1:${host.port}` }, 'POST');
    expect([post.status, post.headers.allow]).toEqual([405, 'GET, HEAD']);
  });
});

describe('browser host: WebSocket', () => {
  it('refuses a connection without the token', async () => {
    const r = await connect(wsUrl(null), origin);
    expect(r).toMatchObject({ ok: false, status: 401 });
  });

  it('refuses a wrong token, even one that differs in the last character only', async () => {
    const last = host.token.at(-1) === 'A' ? 'B' : 'A';
    for (const token of ['wrong', host.token.slice(0, -1) + last, host.token + 'x', '']) {
      const r = await connect(wsUrl(token), origin);
      expect(r).toMatchObject({ ok: false, status: 401 });
    }
  });

  it('refuses a foreign Origin, and a missing one, even with the token', async () => {
    for (const o of ['http://attacker.example', `http://127.0.0.1:${host.port + 1}`, 'null', undefined]) {
      const r = await connect(wsUrl(host.token), o);
      expect(r).toMatchObject({ ok: false, status: 403 });
    }
  });

  it('refuses an upgrade on any other path', async () => {
    const r = await connect(`ws://127.0.0.1:${host.port}/?token=${host.token}`, origin);
    expect(r).toMatchObject({ ok: false, status: 404 });
  });

  it('with the token and its own Origin, carries the contract', async () => {
    const c = await open();
    const info = await c.call('system:info', {});
    expect(info).toEqual({ id: 1, result: { version: expect.any(String), dataDir: home } });
    const viaLocalhost = await connect(
      wsUrl(host.token).replace('127.0.0.1', 'localhost'),
      origin.replace('127.0.0.1', 'localhost'),
    );
    expect(viaLocalhost.ok).toBe(true);
    if (viaLocalhost.ok) await viaLocalhost.client.close();
    await c.close();
  });

  it('answers a malformed payload with INVALID_INPUT naming the field', async () => {
    const c = await open();
    const bad = await c.call('vms:get', { name: 'no spaces allowed' });
    expect(bad).toMatchObject({ error: { code: 'INVALID_INPUT', message: expect.stringContaining('name:') } });
    const extra = await c.call('settings:set', { backend: 'qemu', colour: 'red' });
    expect(extra).toMatchObject({ error: { code: 'INVALID_INPUT', message: expect.stringContaining('colour') } });
    const wrongType = await c.call('shares:add', { vm: 'a', hostPath: 'relative/dir' });
    expect(wrongType).toMatchObject({ error: { code: 'INVALID_INPUT', message: expect.stringContaining('hostPath') } });
    await c.close();
  });

  it('answers an unknown channel and malformed frames with errors, and keeps serving', async () => {
    const c = await open();
    expect(await c.call('vms:explode', {})).toMatchObject({
      error: { code: 'INVALID_INPUT', message: expect.stringContaining('vms:explode') },
    });
    expect(await c.call('__proto__', {})).toMatchObject({ error: { code: 'INVALID_INPUT' } });
    expect(await c.sendRaw('{not json', -1)).toMatchObject({ id: -1, error: { code: 'INVALID_INPUT' } });
    expect(await c.sendRaw(JSON.stringify({ id: 7 }), 7)).toMatchObject({
      id: 7,
      error: { code: 'INVALID_INPUT', message: expect.stringContaining('channel') },
    });
    expect(await c.sendRaw(JSON.stringify({ id: 8, channel: 'system:info', extra: 1 }), 8)).toMatchObject({
      id: 8,
      error: { code: 'INVALID_INPUT' },
    });
    expect(await c.sendRaw(Buffer.from([1, 2, 3]), -1)).toMatchObject({ id: -1, error: { code: 'INVALID_INPUT' } });
    expect(await c.sendRaw('null', -1)).toMatchObject({ id: -1, error: { code: 'INVALID_INPUT' } });
    expect(await c.call('system:info', {})).toMatchObject({ result: { dataDir: home } });
    await c.close();
  });

  it('lists host folders server-side (fs:list), since a browser cannot see host paths', async () => {
    const c = await open();
    const r = await c.call('fs:list', { path: t.dir });
    expect(r).toMatchObject({
      result: { path: t.dir, entries: expect.arrayContaining([{ name: 'ui', path: ui, dir: true }]) },
    });
    await c.close();
  });

  it('pushes engine events to every connected client', async () => {
    const a = await open();
    const b = await open();
    const isVm = (m: { event?: unknown }): boolean =>
      (m.event as { type?: string; vm?: { name?: string } } | undefined)?.vm?.name === 'evented';
    const seenByA = a.next((m) => isVm(m as { event?: unknown }));
    const seenByB = b.next((m) => isVm(m as { event?: unknown }));
    const created = await b.call('vms:create', { name: 'evented', image: 'some-image' });
    expect(created).toMatchObject({ result: { name: 'evented', state: 'stopped' } });
    expect(await seenByA).toEqual({ event: { type: 'vm:state', vm: expect.objectContaining({ name: 'evented' }) } });
    expect(await seenByB).toMatchObject({ event: { type: 'vm:state' } });
    await a.close();
    await b.close();
  });
});
