/**
 * The proxy in Settings: downloads and catalog requests (manifests, the GitHub
 * listing) go through it, ahead of the environment's proxy; NO_PROXY bypasses
 * it; cleared, the environment's proxy applies again. Real recording proxies on
 * 127.0.0.1, the real CLI, the setting saved the way the app saves it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Engine } from '@core/engine';
import { OkError } from '@contract/errors';
import { sha256Hex, startForwardProxy, testBytes, type ForwardProxy } from '../helpers/http';
import { sandbox, type Sandbox } from './fixtures';

let s: Sandbox;
let viaSetting: ForwardProxy;
let viaEnv: ForwardProxy;
const kernel = testBytes(200_000, 51);

beforeEach(async () => {
  s = await sandbox();
  viaSetting = await startForwardProxy();
  viaEnv = await startForwardProxy();
  s.server.route('/dist/vmlinuz', { body: kernel });
  s.server.route('/dist/manifest.json', {
    body: Buffer.from(
      JSON.stringify({
        schema: 1,
        bundles: [
          {
            name: 'proxied',
            version: '1',
            arch: 'x86_64',
            cmdline: 'console=ttyS0',
            artifacts: { kernel: { url: 'vmlinuz', sha256: sha256Hex(kernel), size: kernel.length } },
          },
        ],
      }),
    ),
  });
});
afterEach(async () => {
  await viaSetting.close();
  await viaEnv.close();
  await s.close();
});

/** Save the proxy setting as the app's Settings page does (settings:set). */
async function setProxy(proxy: string | null): Promise<void> {
  const engine = new Engine({ home: s.home, env: s.env });
  try {
    await engine.invoke('settings:set', { proxy });
  } finally {
    await engine.close();
  }
}

const host = () => new URL(s.server.origin).host;

describe('the Settings proxy', () => {
  it('carries downloads and catalog requests, ahead of a different HTTP_PROXY in the environment', async () => {
    await setProxy(viaSetting.url);
    const env = { HTTP_PROXY: viaEnv.url, HTTPS_PROXY: viaEnv.url };
    const add = await s.cli(['catalog', 'add', s.server.url('/dist/manifest.json')], { env });
    expect(add.code, add.stderr).toBe(0);
    const pull = await s.cli(['pull', 'proxied'], { env });
    expect(pull.code, pull.stderr).toBe(0);
    // the download: an absolute-URI GET through the Settings proxy
    expect(viaSetting.requests).toEqual([{ method: 'GET', url: s.server.url('/dist/vmlinuz') }]);
    // the catalog: the manifest and the GitHub listing, tunnelled through it
    expect(viaSetting.tunnels.length).toBeGreaterThanOrEqual(2);
    expect(new Set(viaSetting.tunnels)).toEqual(new Set([host()]));
    expect(viaEnv.requests).toEqual([]);
    expect(viaEnv.tunnels).toEqual([]);
    expect(s.stored()).toContain(sha256Hex(kernel));
  });

  it('is bypassed for NO_PROXY hosts', async () => {
    await setProxy(viaSetting.url);
    const env = { NO_PROXY: 'localhost,127.0.0.1' };
    expect((await s.cli(['catalog', 'add', s.server.url('/dist/manifest.json')], { env })).code).toBe(0);
    const pull = await s.cli(['pull', 'proxied'], { env });
    expect(pull.code, pull.stderr).toBe(0);
    expect(viaSetting.requests).toEqual([]);
    expect(viaSetting.tunnels).toEqual([]);
    expect(s.server.requestsTo('/dist/vmlinuz')).toHaveLength(1);
  });

  it('cleared, leaves the environment proxy in charge', async () => {
    await setProxy(viaSetting.url);
    await setProxy(null);
    const env = { HTTP_PROXY: viaEnv.url };
    expect((await s.cli(['catalog', 'add', s.server.url('/dist/manifest.json')], { env })).code).toBe(0);
    const pull = await s.cli(['pull', 'proxied'], { env });
    expect(pull.code, pull.stderr).toBe(0);
    expect(viaEnv.requests).toEqual([{ method: 'GET', url: s.server.url('/dist/vmlinuz') }]);
    expect(viaEnv.tunnels.length).toBeGreaterThanOrEqual(2);
    expect(viaSetting.requests).toEqual([]);
    expect(viaSetting.tunnels).toEqual([]);
  });

  it('applies to the next request of a running app, without a restart', async () => {
    const engine = new Engine({ home: s.home, env: s.env });
    try {
      await engine.invoke('catalog:list', { refresh: true });
      expect(viaSetting.tunnels).toEqual([]);
      await engine.invoke('settings:set', { proxy: viaSetting.url });
      await engine.invoke('catalog:list', { refresh: true });
      expect(viaSetting.tunnels).toEqual([host()]);
      await engine.invoke('settings:set', { proxy: null });
      await engine.invoke('catalog:list', { refresh: true });
      expect(viaSetting.tunnels).toEqual([host()]);
    } finally {
      await engine.close();
    }
  });

  it('must be an http(s) proxy URL; a bare host:port means http://', async () => {
    const engine = new Engine({ home: s.home, env: s.env });
    try {
      const bad = await engine.invoke('settings:set', { proxy: 'ftp://proxy.example:21' }).catch((e: unknown) => e);
      expect(bad).toBeInstanceOf(OkError);
      expect((bad as OkError).code).toBe('INVALID_INPUT');
      expect((bad as OkError).message).toMatch(/not an http\(s\) proxy URL.*fix it in Settings/);
      expect((await engine.invoke('settings:get', {})).proxy).toBeNull();
      const bare = new URL(viaSetting.url).host;
      await engine.invoke('settings:set', { proxy: bare });
      await engine.invoke('catalog:list', { refresh: true });
      expect(viaSetting.tunnels).toEqual([host()]);
    } finally {
      await engine.close();
    }
  });
});
