/**
 * A hand-written stand-in for the parts of `electron` the app uses, for
 * `vi.mock(import('electron'), …)`. It records what the code under test does
 * (windows and their options, IPC handlers, sent events, notifications,
 * progress values, dialogs) so tests can assert on it, and lets tests play
 * Electron's part (emit navigation events, invoke handlers with a sender frame).
 */
import { EventEmitter } from 'node:events';
import type * as Electron from 'electron';
import { vi } from 'vitest';

export interface FakeFrame {
  url: string;
  parent: FakeFrame | null;
}

export class FakeWebContents extends EventEmitter {
  url = '';
  destroyed = false;
  readonly sent: [string, unknown][] = [];
  windowOpenHandler: ((details: { url: string }) => { action: string }) | null = null;
  send(channel: string, payload: unknown): void {
    this.sent.push([channel, payload]);
  }
  setWindowOpenHandler(handler: (details: { url: string }) => { action: string }): void {
    this.windowOpenHandler = handler;
  }
  getURL(): string {
    return this.url;
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
  /** Emit `name` the way Electron does: an event object with preventDefault, plus its details. */
  fire(name: string, details: Record<string, unknown> = {}): { defaultPrevented: boolean } {
    const event = {
      ...details,
      defaultPrevented: false,
      preventDefault() {
        event.defaultPrevented = true;
      },
    };
    this.emit(name, event);
    return event;
  }
}

export const app = Object.assign(new EventEmitter(), {
  isPackaged: false,
  lock: true,
  userData: '/nonexistent/userData',
  requestSingleInstanceLock: vi.fn(() => app.lock),
  whenReady: vi.fn(() => Promise.resolve()),
  quit: vi.fn(),
  exit: vi.fn(),
  getPath: vi.fn((name: string) => (name === 'userData' ? app.userData : `/nonexistent/${name}`)),
  getAppPath: vi.fn(() => '/src/oklinux-desktop'),
  disableHardwareAcceleration: vi.fn(),
  dock: undefined,
});

export class BrowserWindow extends EventEmitter {
  static readonly all: BrowserWindow[] = [];
  static fromWebContents(contents: unknown): BrowserWindow | null {
    return BrowserWindow.all.find((w) => w.webContents === contents) ?? null;
  }
  readonly webContents = new FakeWebContents();
  readonly progress: number[] = [];
  bounds: { x: number; y: number; width: number; height: number };
  maximized = false;
  minimized = false;
  shown = false;
  focused = false;
  destroyed = false;

  constructor(readonly options: Record<string, unknown> & { webPreferences?: Record<string, unknown> }) {
    super();
    const o = options as { x?: number; y?: number; width: number; height: number };
    this.bounds = { x: o.x ?? 100, y: o.y ?? 100, width: o.width, height: o.height };
    BrowserWindow.all.push(this);
    app.emit('web-contents-created', {}, this.webContents);
  }
  loadURL(url: string): Promise<void> {
    this.webContents.url = url;
    return Promise.resolve();
  }
  setProgressBar(value: number): void {
    this.progress.push(value);
  }
  maximize(): void {
    this.maximized = true;
  }
  isMaximized(): boolean {
    return this.maximized;
  }
  isMinimized(): boolean {
    return this.minimized;
  }
  restore(): void {
    this.minimized = false;
  }
  focus(): void {
    this.focused = true;
  }
  show(): void {
    this.shown = true;
  }
  getBounds(): { x: number; y: number; width: number; height: number } {
    return this.bounds;
  }
  getNormalBounds(): { x: number; y: number; width: number; height: number } {
    return this.bounds;
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
}

type Handler = (event: { senderFrame: FakeFrame | null; sender: FakeWebContents }, payload?: unknown) => unknown;

export const ipcMain = {
  handlers: new Map<string, Handler>(),
  handle: vi.fn((channel: string, handler: Handler) => {
    if (ipcMain.handlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
    ipcMain.handlers.set(channel, handler);
  }),
  removeHandler: vi.fn((channel: string) => ipcMain.handlers.delete(channel)),
  /** Call a registered handler the way a renderer's invoke reaches it. */
  async invoke(channel: string, payload: unknown, frame: FakeFrame | null, sender = new FakeWebContents()) {
    const handler = ipcMain.handlers.get(channel);
    if (!handler) throw new Error(`No handler registered for '${channel}'`);
    return handler({ senderFrame: frame, sender }, payload);
  },
};

export const ipcRenderer = Object.assign(new EventEmitter(), {
  invoke: vi.fn<(channel: string, payload?: unknown) => Promise<unknown>>(),
});

export const contextBridge = {
  exposed: new Map<string, unknown>(),
  exposeInMainWorld: vi.fn((key: string, api: unknown) => {
    contextBridge.exposed.set(key, api);
  }),
};

export const webUtils = { getPathForFile: vi.fn((file: { name: string }) => `/home/user/${file.name}`) };

export const shell = {
  openExternal: vi.fn(() => Promise.resolve()),
  openPath: vi.fn(() => Promise.resolve('')),
};

export const dialog = {
  showOpenDialog: vi.fn(() => Promise.resolve({ canceled: false, filePaths: ['/srv/a', '/srv/b'] })),
  showMessageBox: vi.fn(() => Promise.resolve({ response: 1, checkboxChecked: false })),
  showErrorBox: vi.fn(),
};

export class Notification extends EventEmitter {
  static readonly shown: { title: string; body: string }[] = [];
  static isSupported(): boolean {
    return true;
  }
  constructor(readonly options: { title: string; body: string }) {
    super();
  }
  show(): void {
    Notification.shown.push(this.options);
  }
}

export const Menu = {
  buildFromTemplate: vi.fn((template: unknown[]) => ({ template })),
  setApplicationMenu: vi.fn(),
};

export const session = {
  defaultSession: {
    webRequest: { onHeadersReceived: vi.fn() },
    setPermissionRequestHandler: vi.fn(),
    setPermissionCheckHandler: vi.fn(),
  },
};

export const protocol = {
  registerSchemesAsPrivileged: vi.fn(),
  handle: vi.fn(),
};

export const screen = {
  getAllDisplays: vi.fn(() => [{ workArea: { x: 0, y: 0, width: 1920, height: 1080 } }]),
};

export const nativeTheme = { shouldUseDarkColors: false };

/** The module object handed to vi.mock (typed as the real module: the fakes cover only what the app uses). */
export function electronModule(): typeof Electron {
  const mod = {
    app,
    BrowserWindow,
    ipcMain,
    ipcRenderer,
    contextBridge,
    webUtils,
    shell,
    dialog,
    Notification,
    Menu,
    session,
    protocol,
    screen,
    nativeTheme,
  };
  return { ...mod, default: mod } as unknown as typeof Electron;
}

export const APP_FRAME: FakeFrame = { url: 'oklinux://app/index.html', parent: null };
