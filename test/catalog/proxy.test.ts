// Its own file: the default dispatcher reads the proxy variables once, on first use in the process.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { listReleases } from '@core/catalog';
import { serve, sendJson, type LocalServer } from './local-server';

const saved = { ...process.env };
let target: LocalServer;
let proxy: Server;
const tunnels: string[] = [];
const sockets = new Set<Socket>();

beforeAll(async () => {
  target = await serve((_req, res) => sendJson(res, 200, []));
  // A real CONNECT proxy (undici tunnels through the proxy even for http:// targets).
  proxy = createServer((_req, res) => res.writeHead(405).end());
  proxy.on('connect', (req, client: Socket) => {
    tunnels.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host!, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => s.destroy());
      s.on('close', () => sockets.delete(s));
    }
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  for (const k of ['NO_PROXY', 'no_proxy', 'HTTPS_PROXY', 'https_proxy', 'http_proxy']) delete process.env[k];
  process.env.HTTP_PROXY = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});
afterAll(async () => {
  process.env = saved;
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => proxy.close(resolve));
  await target.close();
});

it('goes through HTTP_PROXY by default', async () => {
  const { pages } = await listReleases({ api: target.origin, token: '' });
  expect(pages).toBe(1);
  expect(tunnels).toEqual([target.origin.slice('http://'.length)]);
  expect(target.requests.map((r) => r.url)).toEqual(['/repos/sevki/okLinux/releases?per_page=100']);
});
