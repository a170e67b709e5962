/**
 * The preload (sandboxed, bundled to CommonJS): exposes `window.oklinux`, the
 * contract as `api.<service>.<method>(input)`, built from CHANNELS (`apiFrom`), plus
 * `onEvent`, `pathForFile` and `pickFolders`. Nothing else crosses the bridge:
 * no ipcRenderer, no event objects. Error envelopes are rethrown as Errors with
 * the engine's `code`.
 */
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import { apiFrom, EVENT_CHANNEL, type AppEvent, type Envelope, type OkLinuxApi } from '@contract';
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
  const extras: Pick<OkLinuxApi, 'onEvent'> & PreloadExtras = {
    onEvent(listener) {
      const forward = (_event: IpcRendererEvent, appEvent: AppEvent): void => listener(appEvent);
      ipcRenderer.on(EVENT_CHANNEL, forward);
      return () => void ipcRenderer.removeListener(EVENT_CHANNEL, forward);
    },
    pathForFile: (file) => webUtils.getPathForFile(file),
    pickFolders: () => invoke(PICK_FOLDERS_CHANNEL, {}) as Promise<string[]>,
  };
  return { ...apiFrom(invoke), ...extras };
}

contextBridge.exposeInMainWorld('oklinux', buildApi());
