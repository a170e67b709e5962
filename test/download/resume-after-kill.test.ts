import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Downloader } from '@core/download';
import { sha256Hex, startTestServer, strongEtag, testBytes, type TestServer } from '../helpers/http';
import { JsonStateStore } from '../helpers/json-state-store';
import { tmpDir } from '../helpers/tmp';

for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy'])
  delete process.env[k];

const repo = fileURLToPath(new URL('../..', import.meta.url));
const MiB = 1 << 20;
let server: TestServer;
let dir: string;
let cleanup: () => void;

beforeEach(async () => {
  server = await startTestServer();
  ({ dir, cleanup } = tmpDir('oklinux-kill-'));
});
afterEach(async () => {
  await server.close();
  cleanup();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('resumes in-process after the downloading process was SIGKILLed', async () => {
  const body = testBytes(8 * MiB, 5);
  const sha = sha256Hex(body);
  // The first response sends 3 MiB and then hangs, so the child is killed mid-transfer.
  server.route('/k', ({ index }) => (index === 0 ? { body, stallAfter: 3 * MiB } : { body }));
  const root = path.join(dir, 'store');
  const stateFile = path.join(dir, 'state.json');
  const part = path.join(root, 'partial', `${sha}.part`);

  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/download/kill-child.ts', root, stateFile, server.url('/k'), sha],
    { cwd: repo, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((r) => child.on('exit', (code, sig) => r(sig ?? code)));

  // Wait (bounded) until the child has written most of what it was sent.
  for (let i = 0; i < 600 && !(fs.existsSync(part) && fs.statSync(part).size >= 2 * MiB); i++) {
    if (child.exitCode !== null) break;
    await sleep(50);
  }
  const before = fs.existsSync(part) ? fs.statSync(part).size : 0;
  expect(before, `the child wrote too little before the deadline; its stderr:\n${stderr}`).toBeGreaterThanOrEqual(
    2 * MiB,
  );
  expect(child.kill('SIGKILL')).toBe(true);
  expect(await exited).toBe('SIGKILL');

  const state = new JsonStateStore(stateFile);
  expect(state.get(sha)).toMatchObject({ url: server.url('/k'), state: 'running', etag: strongEtag(body) });
  const kept = fs.statSync(part).size;

  const d = new Downloader({ root, state, retry: { retries: 2, baseDelayMs: 5, maxDelayMs: 10 } });
  try {
    const res = await d.download({ url: server.url('/k'), sha256: sha });
    expect(fs.readFileSync(res.path).equals(body)).toBe(true);
  } finally {
    await d.close();
  }
  expect(server.requests).toHaveLength(2);
  const resumed = server.requests[1]!;
  expect(resumed.headers.range).toBe(`bytes=${kept}-`);
  expect(kept).toBeGreaterThan(0);
  expect(resumed.headers['if-range']).toBe(strongEtag(body));
  expect(resumed.status).toBe(206);
  expect(server.bytesServed()).toBeLessThan(1.3 * body.length);
  expect(state.get(sha)).toMatchObject({ state: 'done', sha256: sha });
});
