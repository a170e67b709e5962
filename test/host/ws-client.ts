/**
 * A WebSocket client for the browser host's tests: connects the way a page
 * would (token in the URL, an Origin header), and collects server messages so a
 * test can wait for the one it expects.
 */
import http from 'node:http';
import WebSocket from 'ws';
import type { WsServerMessage } from '@contract/ws';

export type Connected = { ok: true; client: WsClient } | { ok: false; status: number; body: string };

export class WsClient {
  private readonly seen: WsServerMessage[] = [];
  private waiters: { match: (m: WsServerMessage) => boolean; resolve: (m: WsServerMessage) => void }[] = [];
  private nextId = 1;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as WsServerMessage;
      const waiter = this.waiters.find((w) => w.match(m));
      if (waiter) {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        waiter.resolve(m);
      } else this.seen.push(m);
    });
  }

  /** The first message (already received or still to come) that matches. */
  next(match: (m: WsServerMessage) => boolean): Promise<WsServerMessage> {
    const i = this.seen.findIndex(match);
    if (i >= 0) return Promise.resolve(this.seen.splice(i, 1)[0]!);
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  /** Send a raw frame and wait for the reply with `id`. */
  sendRaw(frame: string | Buffer, id: number): Promise<WsServerMessage> {
    const reply = this.next((m) => 'id' in m && m.id === id);
    this.ws.send(frame, { binary: Buffer.isBuffer(frame) });
    return reply;
  }

  call(channel: string, payload?: unknown): Promise<WsServerMessage> {
    const id = this.nextId++;
    return this.sendRaw(JSON.stringify({ id, channel, payload }), id);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

export function connect(url: string, origin?: string): Promise<Connected> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, origin === undefined ? {} : { origin });
    ws.once('open', () => resolve({ ok: true, client: new WsClient(ws) }));
    ws.once('unexpected-response', (_req, res: http.IncomingMessage) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ ok: false, status: res.statusCode ?? 0, body }));
    });
    ws.once('error', (e) => reject(e));
  });
}

/** A raw GET, so that paths reach the server exactly as written (no URL normalization). */
export function rawGet(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
