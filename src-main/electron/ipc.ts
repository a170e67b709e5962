/**
 * IPC: one `ipcMain.handle` per contract channel plus the folder picker. Every
 * call is refused unless it comes from the top frame of the app's own page;
 * payloads are validated by the engine's dispatch; every reply is the
 * `{ result } | { error: { code, message } }` envelope.
 */
import type { IpcMain, IpcMainInvokeEvent, WebContents } from 'electron';
import { z } from 'zod';
import { CHANNELS, formatZodError, toErrorPayload, type Envelope } from '@contract';
import type { Engine } from '@core/engine';
import { PICK_FOLDERS_CHANNEL } from './channels';
import { isAppFrame } from './security';

export interface IpcDeps {
  ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'>;
  engine: Pick<Engine, 'call'>;
  /** Show the native folder picker for the window of `sender`; the chosen paths, empty when cancelled. */
  pickFolders(sender: WebContents): Promise<string[]>;
}

const noInput = z.object({}).strict().optional();

function refused(channel: string, event: IpcMainInvokeEvent): Envelope {
  const from = event.senderFrame?.url ?? 'a frame that no longer exists';
  return {
    error: {
      code: 'INVALID_INPUT',
      message: `${channel} was called from ${from}, which is not okLinux Desktop's own page; the call was refused.`,
    },
  };
}

/** Register every handler; returns a function that removes them. */
export function registerIpc(deps: IpcDeps): () => void {
  const handle = (channel: string, fn: (event: IpcMainInvokeEvent, payload: unknown) => Promise<Envelope>): void => {
    deps.ipcMain.handle(channel, (event, payload: unknown) =>
      isAppFrame(event.senderFrame) ? fn(event, payload) : refused(channel, event),
    );
  };
  // Only the app's own top frame gets here (see `handle`): a local caller.
  for (const channel of CHANNELS) handle(channel, (_event, payload) => deps.engine.call(channel, payload, 'local'));
  handle(PICK_FOLDERS_CHANNEL, async (event, payload) => {
    const input = noInput.safeParse(payload);
    if (!input.success) {
      return { error: { code: 'INVALID_INPUT', message: `${PICK_FOLDERS_CHANNEL}: ${formatZodError(input.error)}` } };
    }
    try {
      return { result: await deps.pickFolders(event.sender) };
    } catch (e) {
      return { error: toErrorPayload(e) };
    }
  });
  return () => [...CHANNELS, PICK_FOLDERS_CHANNEL].forEach((c) => deps.ipcMain.removeHandler(c));
}
