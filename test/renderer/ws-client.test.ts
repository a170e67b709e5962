// The browser bridge's WebSocket client against a real `ws` server speaking the transport of src-main/contract/ws.ts.
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import type { AppEvent, Vm } from '@contract';
import { createWsClient, type ConnectionState, type WsClient } from '@renderer/lib/ws-client';

const vm: Vm = {
  name: 'dev',
  image: 'kernel-6.6.1-abc',
  cpus: 2,
  memoryMiB: 1024,
  append: '',
  backend: 'auto',
  accel: 'auto',
  net: 'nat',
  state: 'running',
  pid: 42,
  startedAt: null,
  exitCode: null,
  exitSignal: null,
  lastError: null,
  rootDir: null,
  managedRoot: null,
  rootDisk: null,
  rootDiskSource: null,
  rootDiskBytes: null,
  rootDiskInPlace: false,
  pendingRestart: false,
};

interface Frame {
  id: number;
  channel: string;
  payload: unknown;
}

/** A server that checks the token and answers like the host: vms:get → the VM, vms:start → CONFLICT, others never. */
function startServer(
  port = 0,
): Promise<{ wss: WebSocketServer; port: number; frames: Frame[]; sockets: Set<WebSocket> }> {
  return new Promise((resolve) => {
    const frames: Frame[] = [];
    const sockets = new Set<WebSocket>();
    const wss = new WebSocketServer({
      host: '127.0.0.1',
      port,
      path: '/api',
      verifyClient: ({ req }: { req: IncomingMessage }) =>
        new URL(req.url ?? '', 'http://x').searchParams.get('token') === 'sekrit',
    });
    wss.on('connection', (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      ws.on('message', (data) => {
        const f = JSON.parse(String(data)) as Frame;
        frames.push(f);
        if (f.channel === 'vms:get') ws.send(JSON.stringify({ id: f.id, result: { ...vm, ...(f.payload as object) } }));
        if (f.channel === 'vms:start') {
          ws.send(
            JSON.stringify({ id: f.id, error: { code: 'CONFLICT', message: 'The VM "dev" is already running.' } }),
          );
        }
      });
    });
    wss.on('listening', () => resolve({ wss, port: (wss.address() as { port: number }).port, frames, sockets }));
  });
}

const stop = (wss: WebSocketServer): Promise<void> =>
  new Promise((resolve) => {
    for (const c of wss.clients) c.terminate();
    wss.close(() => resolve());
  });

function waitForState(client: WsClient, status: ConnectionState['status']): Promise<ConnectionState> {
  return new Promise((resolve) => {
    if (client.state().status === status) return resolve(client.state());
    const off = client.onState((s) => {
      if (s.status !== status) return;
      off();
      resolve(s);
    });
  });
}

const socket = (url: string) => new WebSocket(url);
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('WebSocket client', () => {
  it('calls the contract, rejects with the engine error, and fans events out', async () => {
    const srv = await startServer();
    cleanups.push(() => stop(srv.wss));
    const client = createWsClient({ url: `ws://127.0.0.1:${srv.port}/api?token=sekrit`, socket });
    cleanups.push(() => client.close());

    // made while still connecting: sent once the socket opens
    const got = await client.api.vms.get({ name: 'dev' });
    expect(got).toEqual(vm);
    expect(srv.frames[0]).toEqual({ id: 1, channel: 'vms:get', payload: { name: 'dev' } });

    const err = await client.api.vms.start({ name: 'dev' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ code: 'CONFLICT', message: 'The VM "dev" is already running.' });

    const a: AppEvent[] = [];
    const b: AppEvent[] = [];
    const offA = client.api.onEvent((e) => a.push(e));
    client.api.onEvent((e) => b.push(e));
    const first: AppEvent = { type: 'console:data', vm: 'dev', data: 'login: ' };
    const second: AppEvent = { type: 'catalog:changed' };
    const ws = [...srv.sockets][0]!;
    ws.send(JSON.stringify({ event: first }));
    await client.api.vms.get({ name: 'dev' }); // a round trip: the event has arrived
    offA();
    ws.send(JSON.stringify({ event: second }));
    await client.api.vms.get({ name: 'dev' });
    expect(a).toEqual([first]);
    expect(b).toEqual([first, second]);
  });

  it('rejects calls in flight when the connection drops, fails fast while down, and reconnects', async () => {
    const srv = await startServer();
    const port = srv.port;
    const client = createWsClient({ url: `ws://127.0.0.1:${port}/api?token=sekrit`, socket, backoffMs: 20 });
    cleanups.push(() => client.close());
    await waitForState(client, 'open');

    const inFlight = client.api.vms.list({}); // never answered by this server
    await new Promise<void>((r) => {
      const t = setInterval(() => {
        if (srv.frames.some((f) => f.channel === 'vms:list')) {
          clearInterval(t);
          r();
        }
      }, 5);
    });
    const closed = waitForState(client, 'closed');
    await stop(srv.wss);
    const err = await inFlight.catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NETWORK' });
    expect((err as Error).message).toContain('was lost before "vms:list" answered');
    const down = await closed;
    expect(down).toMatchObject({ status: 'closed' });
    expect((down as { reason: string }).reason).toContain(`ws://127.0.0.1:${port}/api`);
    expect((down as { reason: string }).reason).not.toContain('sekrit');

    // the server is back on the same port: the client finds it again by itself
    const again = await startServer(port);
    cleanups.push(() => stop(again.wss));
    await waitForState(client, 'open');
    await expect(client.api.vms.get({ name: 'dev' })).resolves.toMatchObject({ name: 'dev' });
  });

  it('says the engine cannot be reached when the token is refused', async () => {
    const srv = await startServer();
    cleanups.push(() => stop(srv.wss));
    const client = createWsClient({ url: `ws://127.0.0.1:${srv.port}/api?token=wrong`, socket, backoffMs: 60_000 });
    cleanups.push(() => client.close());
    const err = await client.api.system.info({}).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NETWORK' });
    expect((err as Error).message).toMatch(
      /^Cannot reach the okLinux engine: no connection to ws:\/\/127\.0\.0\.1:\d+\/api /,
    );
    expect(client.state().status).toBe('closed');
    // while down, a call fails at once instead of hanging
    await expect(client.api.vms.list({})).rejects.toThrow(/"vms:list" was not sent/);
    expect(srv.frames).toEqual([]);
  });
});
