/**
 * The renderer's one way to the engine: `window.oklinux` under Electron (the
 * preload), otherwise the WebSocket transport of the browser host, authorised by
 * the token from the page URL (`?token=…`, kept in sessionStorage so reloads
 * keep working, and removed from the address bar). `oklinux serve` brings the
 * browser here through a private local page that redirects to that URL, so the
 * token is never on a command line (see src-main/host/launch.ts).
 */
import { getContext, setContext } from 'svelte';
import type { OkLinuxApi, Unsubscribe } from '@contract';
import { createWsClient, type ConnectionState, type SocketFactory } from './ws-client';

export type { ConnectionState } from './ws-client';

export interface Bridge {
  api: OkLinuxApi;
  kind: 'electron' | 'browser';
  /** Host path of a dropped File (Electron only). */
  pathForFile: ((file: File) => string) | null;
  /** The native folder picker (Electron only); the browser types paths or browses with `fs:list`. */
  pickFolders: (() => Promise<string[]>) | null;
  connection: {
    state(): ConnectionState;
    onState(listener: (s: ConnectionState) => void): Unsubscribe;
    reconnectNow(): void;
  };
  /** Browser only: the page was opened without the token `oklinux serve` prints. */
  tokenMissing: boolean;
}

export const TOKEN_KEY = 'oklinux.token';
const WS_PATH = '/api';

/** The token from `?token=` (remembered) or from an earlier visit in this tab. */
export function takeToken(win: Window): string | null {
  const url = new URL(win.location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    win.sessionStorage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete('token');
    win.history.replaceState(win.history.state, '', url.pathname + url.search + url.hash);
    return fromUrl;
  }
  return win.sessionStorage.getItem(TOKEN_KEY);
}

export function wsUrl(loc: Location, token: string | null): string {
  const scheme = loc.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${loc.host}${WS_PATH}?token=${encodeURIComponent(token ?? '')}`;
}

export function createBridge(win: Window = window, socket?: SocketFactory): Bridge {
  const preload = win.oklinux;
  if (preload) {
    const open: ConnectionState = { status: 'open' };
    return {
      api: preload,
      kind: 'electron',
      pathForFile: (file) => preload.pathForFile(file),
      pickFolders: () => preload.pickFolders(),
      connection: { state: () => open, onState: () => () => undefined, reconnectNow: () => undefined },
      tokenMissing: false,
    };
  }
  const token = takeToken(win);
  const client = createWsClient({ url: wsUrl(win.location, token), ...(socket ? { socket } : {}) });
  return {
    api: client.api,
    kind: 'browser',
    pathForFile: null,
    pickFolders: null,
    connection: client,
    tokenMissing: !token,
  };
}

const KEY = Symbol('oklinux.bridge');

export function provideBridge(bridge: Bridge): void {
  setContext(KEY, bridge);
}

export function useBridge(): Bridge {
  const b = getContext<Bridge | undefined>(KEY);
  if (!b) throw new Error('useBridge() outside the app: provideBridge() was not called');
  return b;
}

/** The context map that provides `bridge`, for mounting a component on its own (tests). */
export function bridgeContext(bridge: Bridge): Map<symbol, Bridge> {
  return new Map([[KEY, bridge]]);
}

/** The message of anything thrown, for people. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
