/**
 * Real HTTP servers on 127.0.0.1 for tests: a file server whose routes can
 * misbehave on purpose (drop, stall, ignore Range, redirect, lie about
 * Content-Length, fail with a status), and a tiny forward proxy. Both record
 * what they saw.
 */
import { createHash } from 'node:crypto';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';

export interface RouteSpec {
  /** Status to answer with. Default 200 (or 206 for a honoured Range). */
  status?: number;
  body?: Buffer;
  /** Default: a strong ETag derived from the body. null sends none. */
  etag?: string | null;
  /** Default: a fixed date. null sends none. */
  lastModified?: string | null;
  /** Honour Range and If-Range (default true). */
  ranges?: boolean;
  /** Close the connection after this many body bytes. */
  dropAfter?: number;
  /** Stop sending after this many body bytes and keep the connection open. */
  stallAfter?: number;
  /** Advertise this Content-Length instead of the real one (the body is then cut by closing). */
  contentLength?: number;
  /** Location header (use with a 3xx status). */
  location?: string;
  /** Pause this long between 64 KiB slices. */
  sliceDelayMs?: number;
}

export interface RouteContext {
  /** 0 for the first request to this path, 1 for the next… */
  index: number;
  req: IncomingMessage;
}

export type Route = RouteSpec | ((ctx: RouteContext) => RouteSpec);

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  status: number;
  /** Body bytes written to the socket for this request. */
  bytesServed: number;
}

export interface TestServer {
  origin: string;
  url(path: string): string;
  route(path: string, route: Route): void;
  requests: RecordedRequest[];
  requestsTo(path: string): RecordedRequest[];
  bytesServed(path?: string): number;
  close(): Promise<void>;
}

const SLICE = 64 * 1024;
export const DEFAULT_LAST_MODIFIED = 'Mon, 01 Jan 2024 00:00:00 GMT';

export function strongEtag(body: Buffer): string {
  return `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
}

/** Deterministic pseudo-random bytes (so content differs at every offset). */
export function testBytes(size: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export function sha256Hex(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve(`http://127.0.0.1:${port}`);
    });
  });
}

function trackSockets(server: http.Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return sockets;
}

async function closeServer(server: http.Server, sockets: Set<Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function serve(req: IncomingMessage, res: ServerResponse, spec: RouteSpec, rec: RecordedRequest): Promise<void> {
  const body = spec.body ?? Buffer.alloc(0);
  const etag = spec.etag === undefined ? strongEtag(body) : spec.etag;
  const lastModified = spec.lastModified === undefined ? DEFAULT_LAST_MODIFIED : spec.lastModified;
  if (etag !== null) res.setHeader('ETag', etag);
  if (lastModified !== null) res.setHeader('Last-Modified', lastModified);
  res.setHeader('Accept-Ranges', spec.ranges === false ? 'none' : 'bytes');

  if (spec.status !== undefined && spec.status !== 200) {
    rec.status = spec.status;
    if (spec.location !== undefined) res.setHeader('Location', spec.location);
    res.writeHead(spec.status, { 'Content-Type': 'text/plain' });
    res.end(`status ${spec.status}\n`);
    return;
  }

  let start = 0;
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const ifRange = req.headers['if-range'];
  const validatorOk = ifRange === undefined || ifRange === etag || ifRange === lastModified;
  if (range && spec.ranges !== false && validatorOk) {
    start = Number(range[1]);
    if (start >= body.length) {
      rec.status = 416;
      res.writeHead(416, { 'Content-Range': `bytes */${body.length}` });
      res.end();
      return;
    }
    rec.status = 206;
    res.setHeader('Content-Range', `bytes ${start}-${body.length - 1}/${body.length}`);
  } else {
    rec.status = 200;
  }
  const part = body.subarray(start);
  res.writeHead(rec.status, {
    'Content-Type': 'application/octet-stream',
    'Content-Length': String(spec.contentLength ?? part.length),
  });

  const limit = Math.min(part.length, spec.dropAfter ?? Infinity, spec.stallAfter ?? Infinity);
  for (let at = 0; at < limit && !res.destroyed; at += SLICE) {
    const slice = part.subarray(at, Math.min(limit, at + SLICE));
    rec.bytesServed += slice.length;
    if (!res.write(slice)) await drainOrClose(res);
    if (spec.sliceDelayMs) await sleep(spec.sliceDelayMs);
  }
  if (res.destroyed) return;
  if (spec.stallAfter !== undefined && spec.stallAfter < part.length) return; // hang; close() ends it
  const cut =
    (spec.dropAfter !== undefined && spec.dropAfter < part.length) || (spec.contentLength ?? part.length) > part.length;
  if (cut) {
    // Let the bytes reach the kernel, then drop the connection mid-body.
    res.write('', () => res.socket?.destroy());
    return;
  }
  res.end();
}

export async function startTestServer(): Promise<TestServer> {
  const routes = new Map<string, Route>();
  const counts = new Map<string, number>();
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const rec: RecordedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      status: 0,
      bytesServed: 0,
    };
    requests.push(rec);
    const route = routes.get(path);
    if (!route) {
      rec.status = 404;
      res.writeHead(404).end('not found\n');
      return;
    }
    const index = counts.get(path) ?? 0;
    counts.set(path, index + 1);
    const spec = typeof route === 'function' ? route({ index, req }) : route;
    serve(req, res, spec, rec).catch((e: unknown) => res.destroy(e as Error));
  });
  const sockets = trackSockets(server);
  const origin = await listen(server);
  const pathOf = (r: RecordedRequest) => new URL(r.url, origin).pathname;
  return {
    origin,
    url: (path) => origin + path,
    route: (path, route) => routes.set(path, route),
    requests,
    requestsTo: (path) => requests.filter((r) => pathOf(r) === path),
    bytesServed: (path) =>
      requests.filter((r) => path === undefined || pathOf(r) === path).reduce((n, r) => n + r.bytesServed, 0),
    close: () => closeServer(server, sockets),
  };
}

export interface ForwardProxy {
  url: string;
  /** Absolute-URI requests the proxy forwarded. */
  requests: Array<{ method: string; url: string }>;
  /** `host:port` of each CONNECT tunnel it opened. */
  tunnels: string[];
  close(): Promise<void>;
}

/** A minimal HTTP forward proxy: absolute-URI requests for http:// targets, and CONNECT tunnels. */
export async function startForwardProxy(): Promise<ForwardProxy> {
  const requests: ForwardProxy['requests'] = [];
  const server = http.createServer((req, res) => {
    const target = req.url ?? '';
    requests.push({ method: req.method ?? '', url: target });
    if (!target.startsWith('http://')) {
      res.writeHead(400).end('this proxy only forwards absolute http:// URLs\n');
      return;
    }
    const headers = { ...req.headers };
    delete headers['proxy-connection'];
    delete headers['proxy-authorization'];
    const upstream = http.request(target, { method: req.method, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
      up.on('error', () => res.destroy());
    });
    upstream.on('error', () => {
      if (res.headersSent) res.destroy();
      else res.writeHead(502).end('upstream failed\n');
    });
    req.pipe(upstream);
  });
  const tunnels: string[] = [];
  const piped = new Set<Socket>();
  server.on('connect', (req: IncomingMessage, client: Socket) => {
    const target = req.url ?? '';
    tunnels.push(target);
    const colon = target.lastIndexOf(':');
    const upstream = net.connect(Number(target.slice(colon + 1)), target.slice(0, colon), () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const s of [client, upstream]) {
      piped.add(s);
      s.on('error', () => s.destroy());
      s.on('close', () => piped.delete(s));
    }
  });
  const sockets = trackSockets(server);
  const url = await listen(server);
  return {
    url,
    requests,
    tunnels,
    close: () => {
      for (const s of piped) s.destroy();
      return closeServer(server, sockets);
    },
  };
}
