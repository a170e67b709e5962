// @vitest-environment jsdom
// Which transport the renderer uses, and where the browser's token comes from.
import { afterEach, describe, expect, it } from 'vitest';
import type { OkLinuxApi, PreloadExtras } from '@contract/api';
import { createBridge, TOKEN_KEY, takeToken, wsUrl } from '@renderer/lib/bridge';
import type { SocketLike } from '@renderer/lib/ws-client';

afterEach(() => {
  sessionStorage.clear();
  delete window.oklinux;
  history.replaceState(null, '', '/');
});

/** Records the URL the bridge dials; never opens. */
function dialer() {
  const urls: string[] = [];
  const socket = (url: string): SocketLike => {
    urls.push(url);
    return { readyState: 0, send: () => undefined, close: () => undefined, addEventListener: () => undefined };
  };
  return { urls, socket };
}

describe('bridge', () => {
  it('takes the token from the address, keeps it for reloads, and removes it from the address bar', () => {
    history.replaceState(null, '', '/?token=s3cr%2Bt#/images');
    expect(takeToken(window)).toBe('s3cr+t');
    expect(location.search).toBe('');
    expect(location.hash).toBe('#/images');
    expect(sessionStorage.getItem(TOKEN_KEY)).toBe('s3cr+t');
    expect(takeToken(window)).toBe('s3cr+t'); // after a reload: from sessionStorage
  });

  it('dials the host it was served from, with the token', () => {
    history.replaceState(null, '', '/?token=abc');
    const { urls, socket } = dialer();
    const bridge = createBridge(window, socket);
    expect(bridge.kind).toBe('browser');
    expect(bridge.tokenMissing).toBe(false);
    expect(bridge.pathForFile).toBeNull();
    expect(bridge.pickFolders).toBeNull();
    expect(urls).toEqual([`ws://${location.host}/api?token=abc`]);
    expect(wsUrl({ protocol: 'https:', host: 'h:1' } as Location, 'a b')).toBe('wss://h:1/api?token=a%20b');
  });

  it('says when the page was opened without a token', () => {
    const bridge = createBridge(window, dialer().socket);
    expect(bridge.tokenMissing).toBe(true);
  });

  it('uses the Electron preload when it is there, and its pathForFile and pickFolders', async () => {
    const file = new File([], 'projects');
    const preload = {
      vms: {},
      onEvent: () => () => undefined,
      pathForFile: (f: File) => (f === file ? '/home/ana/projects' : ''),
      pickFolders: async () => ['/home/ana/a', '/home/ana/b'],
    } as unknown as OkLinuxApi & PreloadExtras;
    window.oklinux = preload;
    const { urls, socket } = dialer();
    const bridge = createBridge(window, socket);
    expect(bridge.kind).toBe('electron');
    expect(bridge.api).toBe(preload);
    expect(bridge.pathForFile?.(file)).toBe('/home/ana/projects');
    await expect(bridge.pickFolders?.()).resolves.toEqual(['/home/ana/a', '/home/ana/b']);
    expect(bridge.connection.state()).toEqual({ status: 'open' });
    expect(urls).toEqual([]);
  });
});
