import { beforeAll, describe, expect, it, vi } from 'vitest';
import { CHANNELS, EVENT_CHANNEL, type AppEvent, type OkLinuxApi } from '@contract';
import type { PreloadExtras } from '@contract/api';
import { PICK_FOLDERS_CHANNEL } from '../../src-main/electron/channels';
import { contextBridge, ipcRenderer, webUtils } from './electron-mock';

vi.mock(import('electron'), async () => (await import('./electron-mock')).electronModule());

type Exposed = OkLinuxApi & PreloadExtras;
let api: Exposed;

beforeAll(async () => {
  await import('../../src-main/electron/preload');
  api = contextBridge.exposed.get('oklinux') as Exposed;
});

const method = (channel: string) => {
  const [service, name] = channel.split(':') as [string, string];
  return (api as unknown as Record<string, Record<string, (input?: unknown) => Promise<unknown>>>)[service]![name]!;
};

describe('preload', () => {
  it('exposes one object, window.oklinux, and nothing else', () => {
    expect(contextBridge.exposeInMainWorld).toHaveBeenCalledTimes(1);
    expect([...contextBridge.exposed.keys()]).toEqual(['oklinux']);
  });

  it('exposes exactly the contract, plus onEvent, pathForFile and pickFolders', () => {
    const services = [...new Set(CHANNELS.map((c) => c.split(':')[0]!))];
    expect(Object.keys(api).sort()).toEqual([...services, 'onEvent', 'pathForFile', 'pickFolders'].sort());
    const exposedChannels = services.flatMap((s) =>
      Object.keys((api as unknown as Record<string, object>)[s]!).map((m) => `${s}:${m}`),
    );
    expect(exposedChannels.sort()).toEqual([...CHANNELS].sort());
    for (const c of CHANNELS) expect(typeof method(c)).toBe('function');
  });

  it('invokes the channel of each method with its input and unwraps the result', async () => {
    for (const channel of CHANNELS) {
      ipcRenderer.invoke.mockResolvedValueOnce({ result: { channel } });
      const input = { probe: channel };
      expect(await method(channel)(input)).toEqual({ channel });
      expect(ipcRenderer.invoke).toHaveBeenLastCalledWith(channel, input);
    }
  });

  it('rethrows an error envelope as an Error carrying the code and the message', async () => {
    ipcRenderer.invoke.mockResolvedValueOnce({
      error: { code: 'NOT_FOUND', message: 'There is no VM named "ghost".' },
    });
    const err = await api.vms.start({ name: 'ghost' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ name: 'OkError', code: 'NOT_FOUND', message: 'There is no VM named "ghost".' });
  });

  it('delivers events without the IPC event object, until unsubscribed', () => {
    const seen: unknown[][] = [];
    const off = api.onEvent((...args: unknown[]) => seen.push(args));
    const event: AppEvent = { type: 'catalog:changed' };
    ipcRenderer.emit(EVENT_CHANNEL, { sender: ipcRenderer, ports: [] }, event);
    expect(seen).toEqual([[event]]);
    off();
    ipcRenderer.emit(EVENT_CHANNEL, { sender: ipcRenderer }, event);
    expect(seen).toHaveLength(1);
    expect(ipcRenderer.listenerCount(EVENT_CHANNEL)).toBe(0);
  });

  it('gives host paths of dropped files through webUtils', () => {
    const file = { name: 'notes' } as unknown as File;
    expect(api.pathForFile(file)).toBe('/home/user/notes');
    expect(webUtils.getPathForFile).toHaveBeenCalledWith(file);
  });

  it('opens the folder picker on its own channel', async () => {
    ipcRenderer.invoke.mockResolvedValueOnce({ result: ['/srv/a'] });
    expect(await api.pickFolders()).toEqual(['/srv/a']);
    expect(ipcRenderer.invoke).toHaveBeenLastCalledWith(PICK_FOLDERS_CHANNEL, {});
  });
});
