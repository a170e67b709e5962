import path from 'node:path';
import type { IpcMain, WebContents } from 'electron';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CHANNELS } from '@contract';
import { Engine } from '@core/engine';
import { registerIpc } from '../../src-main/electron/ipc';
import { PICK_FOLDERS_CHANNEL } from '../../src-main/electron/channels';
import { tmpDir } from '../helpers/tmp';
import { APP_FRAME, FakeWebContents, ipcMain, type FakeFrame } from './electron-mock';

const t = tmpDir('oklinux-ipc-');
let engine: Engine;
let call: ReturnType<typeof vi.spyOn>;
const pickFolders = vi.fn((_sender: WebContents) => Promise.resolve(['/srv/music', '/srv/photos']));
let unregister: () => void;

beforeAll(() => {
  engine = new Engine({
    home: path.join(t.dir, 'home'),
    env: { ...process.env, OKLINUX_GITHUB_API: 'http://127.0.0.1:9' },
  });
  call = vi.spyOn(engine, 'call');
  unregister = registerIpc({ ipcMain: ipcMain as unknown as IpcMain, engine, pickFolders });
});

afterAll(async () => {
  await engine.close();
  t.cleanup();
});

describe('IPC handlers', () => {
  it('registers exactly one handler per contract channel, plus the folder picker', () => {
    expect([...ipcMain.handlers.keys()].sort()).toEqual([...CHANNELS, PICK_FOLDERS_CHANNEL].sort());
    expect(ipcMain.handle).toHaveBeenCalledTimes(CHANNELS.length + 1);
    for (const channel of CHANNELS) expect(channel).toMatch(/^[a-z]+:[a-zA-Z]+$/);
  });

  it('answers the app page with the envelope', async () => {
    expect(await ipcMain.invoke('system:info', {}, APP_FRAME)).toEqual({
      result: { version: expect.any(String), dataDir: path.join(t.dir, 'home') },
    });
    expect(await ipcMain.invoke('vms:list', undefined, APP_FRAME)).toEqual({ result: [] });
  });

  it('rejects a bad payload with INVALID_INPUT naming the field', async () => {
    expect(await ipcMain.invoke('vms:get', { name: '../etc' }, APP_FRAME)).toEqual({
      error: { code: 'INVALID_INPUT', message: expect.stringMatching(/^vms:get: name: /) },
    });
    expect(await ipcMain.invoke('console:resize', { name: 'a', cols: 0, rows: 5 }, APP_FRAME)).toMatchObject({
      error: { code: 'INVALID_INPUT', message: expect.stringContaining('cols') },
    });
    expect(await ipcMain.invoke('settings:set', 'backend=qemu', APP_FRAME)).toMatchObject({
      error: { code: 'INVALID_INPUT' },
    });
  });

  it('refuses senders that are not the top frame of the app, without reaching the engine', async () => {
    call.mockClear();
    const foreign: (FakeFrame | null)[] = [
      { url: 'https://example.com/', parent: null },
      { url: 'file:///home/user/evil.html', parent: null },
      { url: 'oklinux://app/index.html', parent: APP_FRAME },
      { url: 'oklinux://app.example.com/index.html', parent: null },
      null,
    ];
    for (const frame of foreign) {
      for (const channel of ['system:info', 'vms:remove', 'fs:list', PICK_FOLDERS_CHANNEL]) {
        const reply = await ipcMain.invoke(channel, {}, frame);
        expect(reply).toEqual({
          error: { code: 'INVALID_INPUT', message: expect.stringContaining("not okLinux Desktop's own page") },
        });
      }
    }
    expect(call).not.toHaveBeenCalled();
    expect(pickFolders).not.toHaveBeenCalled();
  });

  it('opens the folder picker for the calling window and replies with the chosen paths', async () => {
    const sender = new FakeWebContents();
    expect(await ipcMain.invoke(PICK_FOLDERS_CHANNEL, {}, APP_FRAME, sender)).toEqual({
      result: ['/srv/music', '/srv/photos'],
    });
    expect(pickFolders).toHaveBeenCalledWith(sender);
    expect(await ipcMain.invoke(PICK_FOLDERS_CHANNEL, { multiple: true }, APP_FRAME)).toMatchObject({
      error: { code: 'INVALID_INPUT', message: expect.stringContaining('multiple') },
    });
    pickFolders.mockRejectedValueOnce(new Error('no display'));
    expect(await ipcMain.invoke(PICK_FOLDERS_CHANNEL, undefined, APP_FRAME)).toEqual({
      error: { code: 'INTERNAL', message: 'no display' },
    });
  });

  it('removes every handler on request', () => {
    unregister();
    expect(ipcMain.handlers.size).toBe(0);
  });
});
