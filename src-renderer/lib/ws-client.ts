/**
 * The contract over a WebSocket (see src-main/contract/ws.ts), for the browser
 * host. Calls made while connecting wait for the socket; calls made while it is
 * down fail at once; calls in flight when it drops are rejected. It reconnects
 * with exponential backoff and fans `{ event }` frames out to `onEvent`
 * listeners. Errors carry the engine's `code` and `message`.
 */
import {
  apiFrom,
  type AppEvent,
  type Channel,
  type Input,
  type OkLinuxApi,
  type Output,
  type Unsubscribe,
} from '@contract';
import type { WsServerMessage } from '@contract/ws';
import { OkError, type ErrorCode } from '@contract/errors';

export type ConnectionState =
  { status: 'connecting' } | { status: 'open' } | { status: 'closed'; reason: string; retryAt: number | null };

/** The part of the WebSocket API this client uses (the DOM's, or the `ws` package's). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(): void;
  addEventListener(type: 'open' | 'close' | 'error', listener: () => void): void;
  addEventListener(type: 'message', listener: (ev: { data: unknown }) => void): void;
}
export type SocketFactory = (url: string) => SocketLike;

export interface WsClientOptions {
  url: string;
  socket?: SocketFactory;
  /** First reconnect delay, doubled after each failure up to `maxBackoffMs`. */
  backoffMs?: number;
  maxBackoffMs?: number;
}

export interface WsClient {
  api: OkLinuxApi;
  /** One contract call by channel name (what `api.<service>.<method>` does). */
  call<C extends Channel>(channel: C, input: Input<C>): Promise<Output<C>>;
  state(): ConnectionState;
  onState(listener: (s: ConnectionState) => void): Unsubscribe;
  /** Skip the backoff wait and try again now. */
  reconnectNow(): void;
  /** Close for good: no more reconnects. */
  close(): void;
}

interface Pending {
  channel: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

const OPEN = 1;

export function createWsClient(opts: WsClientOptions): WsClient {
  const factory: SocketFactory = opts.socket ?? ((url) => new WebSocket(url));
  const initialBackoff = opts.backoffMs ?? 500;
  const maxBackoff = opts.maxBackoffMs ?? 10_000;
  const shownUrl = opts.url.split('?')[0]!;

  let socket: SocketLike | null = null;
  let state: ConnectionState = { status: 'connecting' };
  let backoff = initialBackoff;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let closed = false;
  let nextId = 1;
  const pending = new Map<number, Pending>();
  const waiting: { id: number; frame: string }[] = [];
  const stateListeners = new Set<(s: ConnectionState) => void>();
  const eventListeners = new Set<(e: AppEvent) => void>();

  const setState = (s: ConnectionState): void => {
    state = s;
    for (const l of stateListeners) l(s);
  };

  const rejectAll = (message: (channel: string) => string): void => {
    const calls = [...pending.values()];
    pending.clear();
    waiting.length = 0;
    for (const p of calls) p.reject(new OkError('NETWORK', message(p.channel)));
  };

  const connect = (): void => {
    timer = null;
    setState({ status: 'connecting' });
    let ws: SocketLike;
    try {
      ws = factory(opts.url);
    } catch (e) {
      onClose(`cannot open ${shownUrl}: ${e instanceof Error ? e.message : String(e)}`, false);
      return;
    }
    socket = ws;
    let opened = false;
    ws.addEventListener('open', () => {
      opened = true;
      backoff = initialBackoff;
      setState({ status: 'open' });
      for (const w of waiting.splice(0)) if (pending.has(w.id)) ws.send(w.frame);
    });
    ws.addEventListener('message', (ev) => onMessage(ev.data));
    ws.addEventListener('error', () => undefined); // a 'close' follows, which says what happened
    ws.addEventListener('close', () => {
      if (socket !== ws) return;
      socket = null;
      onClose(
        opened
          ? `the connection to ${shownUrl} was lost`
          : `no connection to ${shownUrl} (the engine is not running there, or it refused the token)`,
        opened,
      );
    });
  };

  const onClose = (reason: string, wasOpen: boolean): void => {
    rejectAll((channel) =>
      wasOpen
        ? `The connection to the okLinux engine was lost before "${channel}" answered; it may or may not have been done.`
        : `Cannot reach the okLinux engine: ${reason}.`,
    );
    if (closed) {
      setState({ status: 'closed', reason: 'the client was closed', retryAt: null });
      return;
    }
    const delay = backoff;
    backoff = Math.min(maxBackoff, backoff * 2);
    timer = setTimeout(connect, delay);
    setState({ status: 'closed', reason, retryAt: Date.now() + delay });
  };

  const onMessage = (data: unknown): void => {
    let msg: WsServerMessage;
    try {
      msg = JSON.parse(String(data)) as WsServerMessage;
    } catch {
      return;
    }
    if ('event' in msg) {
      for (const l of eventListeners) l(msg.event);
      return;
    }
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if ('error' in msg) p.reject(new OkError(msg.error.code as ErrorCode, msg.error.message));
    else p.resolve(msg.result);
  };

  const call = (channel: Channel, payload: unknown): Promise<unknown> =>
    new Promise((resolve, reject) => {
      if (state.status === 'closed') {
        reject(
          new OkError('NETWORK', `Cannot reach the okLinux engine (${state.reason}), so "${channel}" was not sent.`),
        );
        return;
      }
      const id = nextId++;
      const frame = JSON.stringify({ id, channel, payload: payload ?? {} });
      pending.set(id, { channel, resolve, reject });
      if (socket && socket.readyState === OPEN) socket.send(frame);
      else waiting.push({ id, frame });
    });

  const api: OkLinuxApi = {
    ...apiFrom(call),
    onEvent(listener) {
      eventListeners.add(listener);
      return () => eventListeners.delete(listener);
    },
  };

  connect();

  return {
    api,
    call: (channel, input) => call(channel, input) as never,
    state: () => state,
    onState(listener) {
      stateListeners.add(listener);
      return () => stateListeners.delete(listener);
    },
    reconnectNow() {
      if (closed || state.status !== 'closed' || !timer) return;
      clearTimeout(timer);
      connect();
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      const ws = socket;
      socket = null;
      ws?.close();
      onClose('the client was closed', false);
    },
  };
}
