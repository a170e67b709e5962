import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Downloader } from '@core/download';
import {
  sha256Hex,
  startForwardProxy,
  startTestServer,
  testBytes,
  type ForwardProxy,
  type TestServer,
} from '../helpers/http';
import { JsonStateStore } from '../helpers/json-state-store';
import { tmpDir } from '../helpers/tmp';

const PROXY_VARS = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy'];

let server: TestServer;
let proxy: ForwardProxy;
let dir: string;
let cleanup: () => void;

beforeEach(async () => {
  for (const k of PROXY_VARS) delete process.env[k];
  server = await startTestServer();
  proxy = await startForwardProxy();
  ({ dir, cleanup } = tmpDir('oklinux-proxy-'));
});
afterEach(async () => {
  for (const k of PROXY_VARS) delete process.env[k];
  await proxy.close();
  await server.close();
  cleanup();
});

async function fetchWithNewDownloader(url: string, body: Buffer): Promise<void> {
  const d = new Downloader({ root: path.join(dir, 'store'), state: new JsonStateStore(path.join(dir, 'state.json')) });
  try {
    const res = await d.download({ url, sha256: sha256Hex(body) });
    expect(res.size).toBe(body.length);
  } finally {
    await d.close();
  }
}

it('sends downloads through HTTP_PROXY, and around it for NO_PROXY hosts', async () => {
  const a = testBytes(1 << 20, 1);
  const b = testBytes(1 << 20, 2);
  server.route('/a', { body: a });
  server.route('/b', { body: b });

  process.env.HTTP_PROXY = proxy.url;
  await fetchWithNewDownloader(server.url('/a'), a);
  expect(proxy.requests).toEqual([{ method: 'GET', url: server.url('/a') }]);
  expect(server.requestsTo('/a')).toHaveLength(1);

  process.env.NO_PROXY = 'localhost,127.0.0.1';
  await fetchWithNewDownloader(server.url('/b'), b);
  expect(proxy.requests).toHaveLength(1);
  expect(server.requestsTo('/b')).toHaveLength(1);
});
