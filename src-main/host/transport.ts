/**
 * The contract over one WebSocket connection (see src-main/contract/ws.ts):
 * requests `{ id, channel, payload }` are answered with the engine's envelope
 * under the same id; a frame that is not such a request gets an INVALID_INPUT
 * envelope (id -1 when it carries no usable id). Nothing a client sends can
 * throw out of here. Every call is made as the `browser` caller, so the engine
 * refuses what a web page may not do (change a program okLinux runs).
 */
import type { RawData, WebSocket } from 'ws';
import { formatZodError } from '@contract';
import { WsRequest, type WsResponse, type WsServerMessage } from '@contract/ws';
import type { Engine } from '@core/engine';

export type HostEngine = Pick<Engine, 'call' | 'onEvent'>;

/** A client that leaves this much unread is cut off rather than buffered without bound. */
const MAX_BUFFERED_BYTES = 32 * 1024 * 1024;

type Parsed = { ok: true; request: WsRequest } | { ok: false; reply: WsResponse };

function invalid(id: number, message: string): Parsed {
  return { ok: false, reply: { id, error: { code: 'INVALID_INPUT', message } } };
}

function toText(data: RawData): string {
  const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
  return buf.toString('utf8');
}

function parseFrame(data: RawData, isBinary: boolean): Parsed {
  if (isBinary) return invalid(-1, 'frames must be JSON text: {"id", "channel", "payload"}');
  let json: unknown;
  try {
    json = JSON.parse(toText(data));
  } catch {
    return invalid(-1, 'a frame is not valid JSON; send {"id", "channel", "payload"}');
  }
  const r = WsRequest.safeParse(json);
  if (r.success) return { ok: true, request: r.data };
  const id = (json as { id?: unknown } | null)?.id;
  return invalid(
    typeof id === 'number' && Number.isInteger(id) && id >= 0 ? id : -1,
    `a frame must be {"id", "channel", "payload"}: ${formatZodError(r.error)}`,
  );
}

/** Send one serialized message, or cut off a client that stopped reading. */
export function sendText(ws: WebSocket, text: string): void {
  if (ws.readyState !== ws.OPEN) return;
  if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
    ws.close(1013, 'too many unread messages');
    return;
  }
  ws.send(text);
}

export function serveConnection(ws: WebSocket, engine: HostEngine): void {
  const reply = (m: WsServerMessage): void => sendText(ws, JSON.stringify(m));
  ws.on('message', (data, isBinary) => {
    const parsed = parseFrame(data, isBinary);
    if (!parsed.ok) return reply(parsed.reply);
    const { id, channel, payload } = parsed.request;
    void engine.call(channel, payload, 'browser').then(
      (envelope) => reply({ id, ...envelope }),
      (e: unknown) => reply({ id, error: { code: 'INTERNAL', message: String(e) } }),
    );
  });
}
