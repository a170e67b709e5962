import fs from 'node:fs';
import path from 'node:path';
import type { Session, WebContents } from 'electron';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  hardenContents,
  isAppFrame,
  isAppUrl,
  lockDownSession,
  secureWebPreferences,
} from '../../src-main/electron/security';
import { appResponse } from '../../src-main/electron/protocol';
import { tmpDir } from '../helpers/tmp';
import { FakeWebContents, session as fakeSession } from './electron-mock';

const t = tmpDir('oklinux-electron-sec-');
afterAll(() => t.cleanup());

describe('webPreferences', () => {
  it('isolate and sandbox the page, with no Node and web security on', () => {
    expect(secureWebPreferences('/app/preload.cjs')).toEqual({
      preload: '/app/preload.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      experimentalFeatures: false,
      navigateOnDragDrop: false,
      spellcheck: false,
    });
  });
});

describe("the app's own pages", () => {
  it('are recognised by scheme and host, not by prefix', () => {
    expect(isAppUrl('oklinux://app/index.html')).toBe(true);
    expect(isAppUrl('oklinux://app/assets/x.js?y#z')).toBe(true);
    for (const url of [
      'oklinux://evil/index.html',
      'oklinux://app.evil/index.html',
      'https://app/index.html',
      'file:///work/dist/renderer/index.html',
      'http://127.0.0.1:8080/',
      'not a url',
      '',
    ]) {
      expect([url, isAppUrl(url)]).toEqual([url, false]);
    }
  });

  it('trust only the top frame of an app page as an IPC sender', () => {
    const top = { url: 'oklinux://app/index.html', parent: null };
    expect(isAppFrame(top as never)).toBe(true);
    expect(isAppFrame({ url: 'oklinux://app/index.html', parent: top } as never)).toBe(false);
    expect(isAppFrame({ url: 'https://example.com/', parent: null } as never)).toBe(false);
    expect(isAppFrame(null)).toBe(false);
  });
});

describe('navigation and new windows', () => {
  const setup = (pageUrl = 'oklinux://app/index.html') => {
    const contents = new FakeWebContents();
    contents.url = pageUrl;
    const shell = { openExternal: vi.fn(() => Promise.resolve()) };
    hardenContents(contents as unknown as WebContents, shell);
    return { contents, shell };
  };

  it('denies navigation away from the app, opening only https links in the browser', () => {
    const { contents, shell } = setup();
    expect(contents.fire('will-navigate', { url: 'oklinux://app/index.html' }).defaultPrevented).toBe(false);
    expect(contents.fire('will-navigate', { url: 'https://example.com/docs' }).defaultPrevented).toBe(true);
    expect(shell.openExternal).toHaveBeenCalledWith('https://example.com/docs');
    for (const url of ['http://example.com/', 'file:///etc/passwd', 'javascript:alert(1)', 'oklinux://evil/']) {
      expect(contents.fire('will-navigate', { url }).defaultPrevented).toBe(true);
    }
    expect(shell.openExternal).toHaveBeenCalledTimes(1);
  });

  it('denies every new window; only https from an app page goes to the browser', () => {
    const { contents, shell } = setup();
    const open = contents.windowOpenHandler!;
    for (const url of ['https://github.com/sevki/okLinux', 'http://example.com/', 'file:///etc/passwd', 'smb://x/y']) {
      expect(open({ url })).toEqual({ action: 'deny' });
    }
    expect(shell.openExternal.mock.calls).toEqual([['https://github.com/sevki/okLinux']]);

    const foreign = setup('https://example.com/');
    expect(foreign.contents.windowOpenHandler!({ url: 'https://example.com/x' })).toEqual({ action: 'deny' });
    expect(foreign.shell.openExternal).not.toHaveBeenCalled();
  });

  it('refuses webviews', () => {
    const { contents } = setup();
    expect(contents.fire('will-attach-webview').defaultPrevented).toBe(true);
  });
});

describe('the session', () => {
  lockDownSession(fakeSession.defaultSession as unknown as Session);

  it('adds the CSP header to responses', () => {
    const listener = fakeSession.defaultSession.webRequest.onHeadersReceived.mock.calls[0]![0] as (
      d: { responseHeaders: Record<string, string[]> },
      cb: (r: { responseHeaders: Record<string, string[]> }) => void,
    ) => void;
    const cb = vi.fn();
    listener({ responseHeaders: { 'Content-Type': ['text/html'] } }, cb);
    const headers = cb.mock.calls[0]![0].responseHeaders as Record<string, string[]>;
    expect(headers['Content-Type']).toEqual(['text/html']);
    expect(headers['Content-Security-Policy']![0]).toMatch(/^default-src 'none'; script-src 'self';/);
  });

  it('grants only clipboard permissions, and only to the app', () => {
    const request = fakeSession.defaultSession.setPermissionRequestHandler.mock.calls[0]![0] as (
      wc: unknown,
      permission: string,
      cb: (ok: boolean) => void,
      details: { requestingUrl: string },
    ) => void;
    const answer = (permission: string, url: string): boolean => {
      let granted: boolean | undefined;
      request({}, permission, (ok) => (granted = ok), { requestingUrl: url });
      return granted!;
    };
    expect(answer('clipboard-sanitized-write', 'oklinux://app/index.html')).toBe(true);
    expect(answer('clipboard-read', 'oklinux://app/index.html')).toBe(true);
    expect(answer('clipboard-read', 'https://example.com/')).toBe(false);
    for (const p of ['media', 'geolocation', 'notifications', 'openExternal', 'fileSystem']) {
      expect([p, answer(p, 'oklinux://app/index.html')]).toEqual([p, false]);
    }
    const check = fakeSession.defaultSession.setPermissionCheckHandler.mock.calls[0]![0] as (
      wc: unknown,
      permission: string,
      origin: string,
    ) => boolean;
    expect(check(null, 'clipboard-sanitized-write', 'oklinux://app')).toBe(true);
    expect(check(null, 'media', 'oklinux://app')).toBe(false);
    expect(check(null, 'clipboard-read', 'https://example.com')).toBe(false);
  });
});

describe('the oklinux://app protocol', () => {
  const ui = path.join(t.dir, 'renderer');
  fs.mkdirSync(path.join(ui, 'assets'), { recursive: true });
  fs.writeFileSync(path.join(ui, 'index.html'), '<!doctype html><title>okLinux</title>');
  fs.writeFileSync(path.join(ui, 'assets', 'app.js'), 'export {};');
  fs.writeFileSync(path.join(t.dir, 'secret.txt'), 'secret');

  it('serves the renderer with the CSP and the right MIME type', async () => {
    const page = await appResponse(ui, 'oklinux://app/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await page.text()).toContain('<title>okLinux</title>');
    const js = await appResponse(ui, 'oklinux://app/assets/app.js');
    expect([js.status, js.headers.get('content-type')]).toEqual([200, 'text/javascript; charset=utf-8']);
  });

  it('refuses traversal, other hosts and directories', async () => {
    expect((await appResponse(ui, 'oklinux://app/..%2fsecret.txt')).status).toBe(400);
    // The URL parser already folds "%2e%2e" into the root, where there is no secret.txt.
    const folded = await appResponse(ui, 'oklinux://app/%2e%2e/secret.txt');
    expect(folded.status).toBe(404);
    expect(await folded.text()).not.toContain('secret');
    expect((await appResponse(ui, 'oklinux://other/index.html')).status).toBe(404);
    expect((await appResponse(ui, 'oklinux://app/assets/')).status).toBe(404);
  });

  it('does not follow a symlink out of the renderer directory, to a file or a folder', async () => {
    const outside = path.join(t.dir, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'key.txt'), 'outside-secret');
    fs.symlinkSync(path.join(t.dir, 'secret.txt'), path.join(ui, 'leak.txt'));
    fs.symlinkSync(outside, path.join(ui, 'assets', 'elsewhere'));
    for (const url of ['oklinux://app/leak.txt', 'oklinux://app/assets/elsewhere/key.txt']) {
      const r = await appResponse(ui, url);
      expect([url, r.status]).toEqual([url, 404]);
      expect(await r.text()).not.toContain('secret');
    }
    fs.symlinkSync('app.js', path.join(ui, 'assets', 'alias.js'));
    expect(await (await appResponse(ui, 'oklinux://app/assets/alias.js')).text()).toBe('export {};');
  });
});
