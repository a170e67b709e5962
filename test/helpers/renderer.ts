/**
 * Rendering the whole renderer (App.svelte) in jsdom: the browser APIs it needs that jsdom lacks, cleanup
 * between tests, a bridge around a stand-in engine, and rendering at a route. For `// @vitest-environment jsdom`
 * test files only.
 */
import { afterEach, expect } from 'vitest';
import { cleanup, render, screen, waitFor } from '@testing-library/svelte';
import type { OkLinuxApi } from '@contract';
import type { Bridge } from '@renderer/lib/bridge';
import App from '@renderer/App.svelte';

/**
 * Call once at the top of a test file. xterm (the console in the VM detail) measures its box: jsdom has no
 * layout, so give it the browser APIs it calls (a canvas it can do without); what it draws is not looked at.
 */
export function useAppDom(): void {
  afterEach(() => {
    cleanup();
    history.replaceState(null, '', '/');
  });
  HTMLCanvasElement.prototype.getContext = (() => null) as unknown as HTMLCanvasElement['getContext'];
  globalThis.ResizeObserver ??= class {
    observe(): void {}
    unobserve(): void {}
    disconnect(): void {}
  } as unknown as typeof ResizeObserver;
  window.matchMedia ??= ((query: string) => ({
    matches: false,
    media: query,
    addEventListener: () => undefined,
    removeEventListener: () => undefined,
    addListener: () => undefined,
    removeListener: () => undefined,
  })) as unknown as typeof window.matchMedia;
}

/**
 * The API parts a VM detail calls that a test does not look at: a console with nothing in it and an event
 * stream that never fires. Spread into a stand-in api (`{ ...quietApi, vms: ... }`).
 */
export const quietApi = {
  console: { attach: async () => ({ tail: '' }), detach: async () => undefined, resize: async () => undefined },
  onEvent: () => () => undefined,
};

/** A browser page's bridge to `api`, its connection open unless `connection` says otherwise. */
export function browserBridge(api: OkLinuxApi, connection?: Bridge['connection']): Bridge {
  return {
    api,
    kind: 'browser',
    pathForFile: null,
    pickFolders: null,
    connection: connection ?? {
      state: () => ({ status: 'open' }),
      onState: () => () => undefined,
      reconnectNow: () => undefined,
    },
    tokenMissing: false,
  };
}

/** Renders the app at `hash` (`#/vms` or `#/vms/<name>`) and waits for that view. */
export async function renderApp(hash: string, bridge: Bridge): Promise<void> {
  history.replaceState(null, '', `/${hash}`);
  render(App, { props: { bridge } });
  await waitFor(() => expect(screen.getByTestId(hash === '#/vms' ? 'view-vms' : 'view-vm')).toBeTruthy());
}
