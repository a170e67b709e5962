/**
 * The browser host (`oklinux serve`): the built renderer over HTTP plus the
 * contract over a WebSocket at /api, so the same UI runs in a browser against
 * the real engine.
 *
 * - It listens on 127.0.0.1 only, and answers only requests addressed to
 *   127.0.0.1:<port> or localhost:<port> (no DNS rebinding).
 * - The WebSocket needs the random token the printed URL carries, compared in
 *   constant time, and an Origin equal to the page's own origin.
 * - Static files carry a strict CSP; paths never leave the static directory
 *   (symlinks included: see static.ts) and directories are never listed. The page itself holds no secret, so it loads
 *   without the token.
 * - Every engine event is pushed to every connected client.
 *
 * This folder (host/) is the browser host behind `oklinux serve`: static files and the contract over a
 * WebSocket, on 127.0.0.1 with a token. It calls the engine only through `Engine.call`, as the `browser`
 * caller.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pipeline, type Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { WS_PATH } from '@contract/ws';
import { OkError } from '@contract/errors';
import { contentSecurityPolicy, SECURITY_HEADERS } from './csp';
import { mimeType, resolveStatic, STATIC_OPEN_FLAGS } from './static';
import { newToken, tokenMatches } from './token';
import { sendText, serveConnection, type HostEngine } from './transport';

export interface HostOptions {
  engine: HostEngine;
  /** The built renderer (its index.html is the page). */
  staticDir: string;
  /** 0 or absent: a free port chosen by the system. */
  port?: number;
}

export interface Host {
  /**
   * The page's URL with the token, http://127.0.0.1:<port>/?token=…, to print or to put in the launch page
   * (launch.ts); never on a command line, where other local users can read it.
   */
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const LOOPBACK = '127.0.0.1';
/** Console input is at most 64 KiB a frame; anything far larger is not a contract request. */
const MAX_FRAME_BYTES = 1024 * 1024;

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  426: 'Upgrade Required',
};

function listen(server: http.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      reject(
        e.code === 'EADDRINUSE'
          ? new OkError(
              'CONFLICT',
              `Port ${port} on ${LOOPBACK} is already in use. Choose another with --port, or omit it.`,
            )
          : new OkError('INVALID_INPUT', `Cannot listen on ${LOOPBACK}:${port} (${e.code ?? e.message}).`),
      );
    };
    server.once('error', onError);
    server.listen(port, LOOPBACK, () => {
      server.off('error', onError);
      resolve((server.address() as { port: number }).port);
    });
  });
}

/** Refuse an upgrade with a plain HTTP answer and close the socket. */
function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
  const body = `${reason}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

export async function startHost(opts: HostOptions): Promise<Host> {
  const staticDir = path.resolve(opts.staticDir);
  if (!fs.existsSync(path.join(staticDir, 'index.html'))) {
    throw new OkError(
      'NOT_FOUND',
      `The UI is not built: ${path.join(staticDir, 'index.html')} is missing. Run "npm run build" first ("npm run serve" does both).`,
    );
  }
  const token = newToken();
  let port = opts.port ?? 0;
  const hosts = (): string[] => [`${LOOPBACK}:${port}`, `localhost:${port}`];
  const ownHost = (req: http.IncomingMessage): boolean => hosts().includes(req.headers.host ?? '');
  const ownOrigin = (req: http.IncomingMessage): boolean => req.headers.origin === `http://${req.headers.host}`;
  const csp = (): string => contentSecurityPolicy(hosts().map((h) => `ws://${h}`));

  const plain = (res: http.ServerResponse, status: number, extra: Record<string, string> = {}): void => {
    const body = `${STATUS_TEXT[status]}\n`;
    res.writeHead(status, {
      ...SECURITY_HEADERS,
      'Content-Security-Policy': csp(),
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(body)),
      ...extra,
    });
    res.end(body);
  };

  const server = http.createServer((req, res) => {
    if (!ownHost(req)) return plain(res, 403);
    if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, { Allow: 'GET, HEAD' });
    const pathname = (req.url ?? '/').split('?')[0]!;
    if (pathname === WS_PATH) return plain(res, 426, { Upgrade: 'websocket' });
    void resolveStatic(staticDir, pathname).then(async (found) => {
      if (found.status !== 200) return plain(res, found.status);
      const file = await fs.promises.open(found.file, STATIC_OPEN_FLAGS).catch(() => null);
      if (!file) return plain(res, 404);
      res.writeHead(200, {
        ...SECURITY_HEADERS,
        'Content-Security-Policy': csp(),
        'Content-Type': mimeType(found.file),
        'Cache-Control': 'no-cache',
      });
      if (req.method === 'HEAD') {
        res.end();
        return file.close().catch(() => undefined);
      }
      pipeline(file.createReadStream(), res, () => undefined);
    });
  });
  server.on('clientError', (_e, socket) => socket.destroy());

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  const clients = new Set<WebSocket>();
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', `http://${LOOPBACK}`);
    if (url.pathname !== WS_PATH) return refuseUpgrade(socket, 404, `The WebSocket lives at ${WS_PATH}.`);
    if (!ownHost(req)) return refuseUpgrade(socket, 403, 'This host answers only to 127.0.0.1 and localhost.');
    if (!ownOrigin(req)) return refuseUpgrade(socket, 403, "The Origin must be this page's own origin.");
    if (!tokenMatches(token, url.searchParams.get('token'))) {
      return refuseUpgrade(socket, 401, 'A valid token is required: open the URL that "oklinux serve" printed.');
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      clients.add(ws);
      ws.on('close', () => clients.delete(ws));
      ws.on('error', () => ws.terminate());
      serveConnection(ws, opts.engine);
    });
  });

  const unsubscribe = opts.engine.onEvent((event) => {
    if (clients.size === 0) return;
    const text = JSON.stringify({ event });
    for (const ws of clients) sendText(ws, text);
  });

  try {
    port = await listen(server, port);
  } catch (e) {
    unsubscribe();
    throw e;
  }

  return {
    url: `http://${LOOPBACK}:${port}/?token=${token}`,
    port,
    token,
    async close() {
      unsubscribe();
      for (const ws of clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
