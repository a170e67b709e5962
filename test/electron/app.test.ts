/**
 * The whole main process wired together (startApp) against the mocked electron
 * module and a real engine in a temporary data directory.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CHANNELS, EVENT_CHANNEL } from '@contract';
import { startApp } from '../../src-main/electron/app';
import { APP_URL, PICK_FOLDERS_CHANNEL } from '../../src-main/electron/channels';
import { secureWebPreferences } from '../../src-main/electron/security';
import { tmpDir } from '../helpers/tmp';
import { APP_FRAME, app, BrowserWindow, dialog, ipcMain, Menu, protocol, session, shell } from './electron-mock';

vi.mock(import('electron'), async () => (await import('./electron-mock')).electronModule());

const t = tmpDir('oklinux-app-');
const home = path.join(t.dir, 'home');
const userData = path.join(t.dir, 'userData');
const stateFile = path.join(userData, 'window-state.json');
const PRELOAD = '/opt/okLinux/resources/app.asar/dist/main/electron/preload.cjs';
const saved = { OKLINUX_HOME: process.env.OKLINUX_HOME, OKLINUX_GITHUB_API: process.env.OKLINUX_GITHUB_API };

beforeAll(() => {
  process.env.OKLINUX_HOME = home;
  process.env.OKLINUX_GITHUB_API = 'http://127.0.0.1:9';
  app.userData = userData;
  fs.mkdirSync(userData, { recursive: true });
  fs.writeFileSync(stateFile, JSON.stringify({ x: 50, y: 60, width: 1000, height: 700, maximized: true }));
});

afterAll(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  t.cleanup();
});

const paths = { rendererDir: path.join(t.dir, 'renderer'), preload: PRELOAD };
const eventsSent = (w: BrowserWindow) => w.webContents.sent.filter(([c]) => c === EVENT_CHANNEL).map(([, e]) => e);

describe('startApp', () => {
  it('quits at once, with no window, when another instance holds the lock', async () => {
    app.lock = false;
    await startApp(paths);
    expect(app.requestSingleInstanceLock).toHaveBeenCalledTimes(1);
    expect(app.quit).toHaveBeenCalledTimes(1);
    expect(BrowserWindow.all).toHaveLength(0);
    expect(ipcMain.handlers.size).toBe(0);
    app.lock = true;
    app.quit.mockClear();
    app.removeAllListeners();
  });

  it('opens one locked-down window on the app scheme, where it was last', async () => {
    await startApp(paths);
    expect(protocol.registerSchemesAsPrivileged).toHaveBeenCalledWith([
      { scheme: 'oklinux', privileges: { standard: true, secure: true, codeCache: true } },
    ]);
    expect(protocol.handle).toHaveBeenCalledWith('oklinux', expect.any(Function));
    expect(BrowserWindow.all).toHaveLength(1);
    const win = BrowserWindow.all[0]!;
    expect(win.options.webPreferences).toEqual(secureWebPreferences(PRELOAD));
    expect(win.options).toMatchObject({ x: 50, y: 60, width: 1000, height: 700, show: false });
    expect(win.maximized).toBe(true);
    expect(win.webContents.url).toBe(APP_URL);
    win.emit('ready-to-show');
    expect(win.shown).toBe(true);
  });

  it('hardens the window contents: navigation and new windows denied', () => {
    const contents = BrowserWindow.all[0]!.webContents;
    expect(contents.fire('will-navigate', { url: 'https://attacker.example/' }).defaultPrevented).toBe(true);
    expect(contents.fire('will-navigate', { url: 'file:///etc/passwd' }).defaultPrevented).toBe(true);
    expect(contents.windowOpenHandler!({ url: 'https://github.com/sevki/okLinux' })).toEqual({ action: 'deny' });
    expect(shell.openExternal.mock.calls).toEqual([
      ['https://attacker.example/'],
      ['https://github.com/sevki/okLinux'],
    ]);
  });

  it('locks down the session and sets a menu', () => {
    expect(session.defaultSession.webRequest.onHeadersReceived).toHaveBeenCalledTimes(1);
    expect(session.defaultSession.setPermissionRequestHandler).toHaveBeenCalledTimes(1);
    const template = Menu.setApplicationMenu.mock.calls[0]![0] as { template: { label?: string; role?: string }[] };
    expect(template.template.map((m) => m.label ?? m.role)).toEqual(['File', 'editMenu', 'View', 'windowMenu', 'help']);
  });

  it('handles every contract channel, and refuses foreign frames', async () => {
    expect([...ipcMain.handlers.keys()].sort()).toEqual([...CHANNELS, PICK_FOLDERS_CHANNEL].sort());
    expect(await ipcMain.invoke('system:info', {}, APP_FRAME)).toEqual({
      result: { version: expect.any(String), dataDir: home },
    });
    expect(await ipcMain.invoke('system:info', {}, { url: 'https://attacker.example/', parent: null })).toMatchObject({
      error: { code: 'INVALID_INPUT' },
    });
  });

  it('queues events until the page has loaded, and again while it reloads', async () => {
    const win = BrowserWindow.all[0]!;
    await ipcMain.invoke('vms:create', { name: 'early', image: 'img' }, APP_FRAME);
    expect(eventsSent(win)).toEqual([]);
    win.webContents.emit('did-finish-load');
    expect(eventsSent(win)).toEqual([{ type: 'vm:state', vm: expect.objectContaining({ name: 'early' }) }]);

    await ipcMain.invoke('vms:create', { name: 'live', image: 'img' }, APP_FRAME);
    expect(eventsSent(win)).toHaveLength(2);

    win.webContents.emit('did-start-navigation', { isMainFrame: true, isSameDocument: false });
    await ipcMain.invoke('vms:create', { name: 'reloading', image: 'img' }, APP_FRAME);
    expect(eventsSent(win)).toHaveLength(2);
    win.webContents.emit('did-finish-load');
    expect(eventsSent(win).at(-1)).toEqual({ type: 'vm:state', vm: expect.objectContaining({ name: 'reloading' }) });
  });

  it('opens the native folder picker for its window', async () => {
    const win = BrowserWindow.all[0]!;
    expect(await ipcMain.invoke(PICK_FOLDERS_CHANNEL, {}, APP_FRAME, win.webContents)).toEqual({
      result: ['/srv/a', '/srv/b'],
    });
    expect(dialog.showOpenDialog).toHaveBeenCalledWith(
      win,
      expect.objectContaining({ properties: expect.arrayContaining(['openDirectory', 'multiSelections']) }),
    );
  });

  it('brings the window back when a second instance starts', () => {
    const win = BrowserWindow.all[0]!;
    win.minimized = true;
    app.emit('second-instance');
    expect([win.minimized, win.focused]).toEqual([false, true]);
  });

  it('on quit with no VM running, saves the bounds and exits without asking', async () => {
    const win = BrowserWindow.all[0]!;
    win.bounds = { x: 10, y: 20, width: 900, height: 640 };
    win.maximized = false;
    app.emit('window-all-closed');
    expect(app.quit).toHaveBeenCalledTimes(1);
    const event = { preventDefault: vi.fn() };
    app.emit('before-quit', event);
    expect(event.preventDefault).toHaveBeenCalled();
    await vi.waitFor(() => expect(app.exit).toHaveBeenCalledWith(0));
    expect(dialog.showMessageBox).not.toHaveBeenCalled();
    expect(JSON.parse(fs.readFileSync(stateFile, 'utf8'))).toEqual({
      x: 10,
      y: 20,
      width: 900,
      height: 640,
      maximized: false,
    });
  });
});
