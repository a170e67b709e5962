/**
 * The WebSocket transport of the contract, used by the browser host
 * (`oklinux serve`) and the renderer's bridge when there is no Electron preload.
 *
 * - URL: `ws://127.0.0.1:<port>/api?token=<token>`; the page gets the token from
 *   its own URL (`/?token=…`, as Jupyter does), reached through the private
 *   launch page `oklinux serve` opens (src-main/host/launch.ts), so the token is
 *   never on a command line. The server refuses a missing or wrong token, and an
 *   Origin other than its own.
 * - Calls are made as the `browser` caller: the engine refuses to change a
 *   setting that names a program it runs (`PROGRAM_SETTINGS`).
 * - Client → server: `{ id, channel, payload }` (channel is a contract channel).
 * - Server → client: `{ id, result }` or `{ id, error: { code, message } }`, and
 *   `{ event }` for every engine event.
 */
import { z } from 'zod';
import type { ErrorPayload } from './errors';
import type { AppEvent } from './schemas';

export const WS_PATH = '/api';

export const WsRequest = z
  .object({
    id: z.number().int().nonnegative(),
    channel: z.string().min(1),
    payload: z.unknown().optional(),
  })
  .strict();
export type WsRequest = z.infer<typeof WsRequest>;

export type WsResponse = { id: number; result: unknown } | { id: number; error: ErrorPayload };
export type WsEvent = { event: AppEvent };
export type WsServerMessage = WsResponse | WsEvent;
