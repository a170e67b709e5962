/**
 * The preload (sandboxed, bundled to CommonJS): exposes `window.oklinux`, the
 * contract as `api.<service>.<method>(input)`, built from CHANNELS, plus
 * `onEvent`, `pathForFile` and `pickFolders`. Nothing else crosses the bridge:
 * no ipcRenderer, no event objects. Error envelopes are rethrown as Errors with
 * the engine's `code`.
 */
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import { CHANNELS, EVENT_CHANNEL, type AppEvent, type Envelope, type OkLinuxApi } from '@contract';
import type { PreloadExtras } from '@contract/api';
import { PICK_FOLDERS_CHANNEL } from './channels';

async function invoke(channel: string, input: unknown): Promise<unknown> {
  const reply = (await ipcRenderer.invoke(channel, input)) as Envelope;
  if ('error' in reply) {
    throw Object.assign(new Error(reply.error.message), { name: 'OkError', code: reply.error.code });
  }
  return reply.result;
}

export function buildApi(): OkLinuxApi & PreloadExtras {
  const services: Record<string, Record<string, (input: unknown) => Promise<unknown>>> = {};
  for (const channel of CHANNELS) {
    const [service, method] = channel.split(':') as [string, string];
    (services[service] ??= {})[method] = (input) => invoke(channel, input);
  }
  const extras: Pick<OkLinuxApi, 'onEvent'> & PreloadExtras = {
    onEvent(listener) {
      const forward = (_event: IpcRendererEvent, appEvent: AppEvent): void => listener(appEvent);
      ipcRenderer.on(EVENT_CHANNEL, forward);
      return () => void ipcRenderer.removeListener(EVENT_CHANNEL, forward);
    },
    pathForFile: (file) => webUtils.getPathForFile(file),
    pickFolders: () => invoke(PICK_FOLDERS_CHANNEL, {}) as Promise<string[]>,
  };
  return { ...services, ...extras } as unknown as OkLinuxApi & PreloadExtras;
}

contextBridge.exposeInMainWorld('oklinux', buildApi());
