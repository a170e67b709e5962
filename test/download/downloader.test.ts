import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Downloader, writeChunks, type DownloadProgress, type DownloaderOptions } from '@core/download';
import { isOkError, type OkError } from '@contract/errors';
import { sha256Hex, startTestServer, strongEtag, testBytes, type TestServer } from '../helpers/http';
import { JsonStateStore } from '../helpers/json-state-store';
import { tmpDir } from '../helpers/tmp';

// These tests talk to 127.0.0.1 directly; a proxy in the environment must not get in the way.
for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy'])
  delete process.env[k];

const MiB = 1 << 20;

let server: TestServer;
let dir: string;
let cleanup: () => void;
let state: JsonStateStore;
const downloaders: Downloader[] = [];

beforeEach(async () => {
  server = await startTestServer();
  ({ dir, cleanup } = tmpDir('oklinux-dl-'));
  state = new JsonStateStore(path.join(dir, 'state.json'));
});

afterEach(async () => {
  await Promise.all(downloaders.splice(0).map((d) => d.close()));
  await server.close();
  cleanup();
});

function make(opts: Partial<DownloaderOptions> = {}): Downloader {
  const d = new Downloader({
    root: path.join(dir, 'store'),
    state,
    retry: { retries: 3, baseDelayMs: 5, maxDelayMs: 20 },
    stallTimeoutMs: 5_000,
    ...opts,
  });
  downloaders.push(d);
  return d;
}

async function failure(p: Promise<unknown>): Promise<OkError> {
  try {
    await p;
  } catch (e) {
    if (isOkError(e)) return e;
    throw e;
  }
  throw new Error('expected the download to fail');
}

function partFiles(d: Downloader): string[] {
  return fs.existsSync(d.partialDir) ? fs.readdirSync(d.partialDir) : [];
}

/** The byte offset of a request's `Range: bytes=N-`, or null. */
function rangeStart(headers: { range?: string }): number | null {
  const m = /^bytes=(\d+)-$/.exec(headers.range ?? '');
  return m ? Number(m[1]) : null;
}

describe('Downloader', () => {
  it('downloads, verifies and installs into the content store, with progress', async () => {
    const body = testBytes(3 * MiB);
    const sha = sha256Hex(body);
    server.route('/k.tar.gz', { body, sliceDelayMs: 5 });
    const d = make();
    const events: Array<DownloadProgress & { at: number }> = [];
    const res = await d.download({
      url: server.url('/k.tar.gz'),
      sha256: sha,
      onProgress: (p) => events.push({ ...p, at: performance.now() }),
    });

    expect(res).toEqual({ sha256: sha, size: body.length, path: path.join(dir, 'store', 'sha256', sha) });
    expect(fs.readFileSync(res.path).equals(body)).toBe(true);
    expect(server.requests).toHaveLength(1);
    expect(partFiles(d)).toEqual([]);
    expect(state.get(sha)).toMatchObject({ state: 'done', sha256: sha, bytesDone: body.length, total: body.length });

    const last = events.at(-1)!;
    expect(last).toMatchObject({ id: sha, bytes: body.length, total: body.length, eta: 0 });
    expect(last.rate).toBeGreaterThan(0);
    expect(events.length).toBeGreaterThan(1);
    // Throttled: at most one event per 100 ms, except the final one.
    for (let i = 1; i < events.length - 1; i++) expect(events[i]!.at - events[i - 1]!.at).toBeGreaterThanOrEqual(99);
    for (let i = 1; i < events.length; i++) expect(events[i]!.bytes).toBeGreaterThanOrEqual(events[i - 1]!.bytes);

    // Already in the store: no new request.
    const again = await make().download({ url: server.url('/k.tar.gz'), sha256: sha, size: body.length });
    expect(again).toEqual(res);
    expect(server.requests).toHaveLength(1);
  });

  it('downloads without an expected hash and reports the digest', async () => {
    const body = testBytes(MiB + 123, 7);
    server.route('/f', { body, etag: null, lastModified: null });
    const res = await make().download({ url: server.url('/f') });
    expect(res.sha256).toBe(sha256Hex(body));
    expect(fs.readFileSync(res.path).equals(body)).toBe(true);
  });

  it('resumes with Range and If-Range after the server drops the connection midway', async () => {
    const body = testBytes(4 * MiB);
    const sha = sha256Hex(body);
    server.route('/k', ({ index }) => (index === 0 ? { body, dropAfter: 1.5 * MiB } : { body }));
    const res = await make().download({ url: server.url('/k'), sha256: sha });

    expect(fs.readFileSync(res.path).equals(body)).toBe(true);
    const [first, second] = server.requests;
    expect(server.requests).toHaveLength(2);
    expect(first!.headers.range).toBeUndefined();
    expect(rangeStart(second!.headers)).toBeGreaterThan(0);
    expect(second!.headers['if-range']).toBe(strongEtag(body));
    expect(second!.status).toBe(206);
    expect(server.bytesServed()).toBeLessThan(1.3 * body.length);
  });

  it('trusts the .part size over a stale bytesDone, and installs a complete .part without a request', async () => {
    const body = testBytes(2 * MiB);
    const sha = sha256Hex(body);
    server.route('/k', { body });
    const d = make();
    const url = server.url('/k');
    const partPath = path.join(d.partialDir, `${sha}.part`);
    const saved = {
      id: sha,
      url,
      partPath,
      bytesDone: 0, // the state lagged behind the file
      total: body.length,
      etag: strongEtag(body),
      lastModified: null,
      expectedSha256: sha,
      sha256: null,
      state: 'running' as const,
      error: null,
    };
    fs.mkdirSync(d.partialDir, { recursive: true });
    fs.writeFileSync(partPath, body.subarray(0, 1234567));
    state.upsert(saved);
    const res = await d.download({ url, sha256: sha });
    expect(fs.readFileSync(res.path).equals(body)).toBe(true);
    expect(server.requests[0]!.headers.range).toBe('bytes=1234567-');
    expect(server.bytesServed()).toBe(body.length - 1234567);

    // Killed after the last byte was written but before the rename: nothing left to fetch.
    await d.cas.remove(sha);
    fs.writeFileSync(partPath, body);
    state.upsert(saved);
    const again = await d.download({ url, sha256: sha });
    expect(again).toEqual(res);
    expect(server.requests).toHaveLength(1);
  });

  it('uses Last-Modified for If-Range when there is no ETag', async () => {
    const body = testBytes(2 * MiB);
    server.route('/k', ({ index }) => ({ body, etag: null, ...(index === 0 ? { dropAfter: MiB } : {}) }));
    const res = await make().download({ url: server.url('/k') });
    expect(res.sha256).toBe(sha256Hex(body));
    expect(server.requests[1]!.headers['if-range']).toBe('Mon, 01 Jan 2024 00:00:00 GMT');
    expect(server.requests[1]!.status).toBe(206);
  });

  it('starts from zero when the server ignores Range', async () => {
    const body = testBytes(2 * MiB);
    server.route('/k', ({ index }) => ({ body, ranges: false, ...(index === 0 ? { dropAfter: MiB } : {}) }));
    const res = await make().download({ url: server.url('/k'), sha256: sha256Hex(body) });
    expect(fs.readFileSync(res.path).equals(body)).toBe(true);
    expect(rangeStart(server.requests[1]!.headers)).toBeGreaterThan(0);
    expect(server.requests[1]!.status).toBe(200);
    expect(server.requests).toHaveLength(2);
  });

  it('starts from zero when the validator changed between tries (If-Range answered 200)', async () => {
    const a = testBytes(2 * MiB, 1);
    const b = testBytes(2 * MiB, 2);
    server.route('/k', ({ index }) =>
      index === 0 ? { body: a, etag: '"a"', dropAfter: MiB } : { body: b, etag: '"b"' },
    );
    const res = await make().download({ url: server.url('/k') });
    expect(res.sha256).toBe(sha256Hex(b));
    expect(fs.readFileSync(res.path).equals(b)).toBe(true);
    expect(server.requests[1]!.headers['if-range']).toBe('"a"');
    expect(server.requests[1]!.status).toBe(200);
  });

  it('starts from zero on 412 and on a Content-Range that does not fit', async () => {
    const body = testBytes(2 * MiB, 3);
    server.route('/p', ({ index }) =>
      index === 0 ? { body, dropAfter: MiB } : index === 1 ? { status: 412 } : { body },
    );
    const r1 = await make().download({ url: server.url('/p') });
    expect(r1.sha256).toBe(sha256Hex(body));
    expect(server.requestsTo('/p').map((r) => [r.status, rangeStart(r.headers)])).toEqual([
      [200, null],
      [412, expect.any(Number)],
      [200, null],
    ]);

    // Same ETag, but the file grew: the 206's total does not match what we saved.
    const longer = testBytes(3 * MiB, 3);
    server.route('/q', ({ index }) =>
      index === 0 ? { body, etag: '"same"', dropAfter: MiB } : { body: longer, etag: '"same"' },
    );
    const r2 = await make().download({ url: server.url('/q') });
    expect(r2.sha256).toBe(sha256Hex(longer));
    expect(server.requestsTo('/q').map((r) => r.status)).toEqual([200, 206, 200]);
  });

  it('deletes the file and names URL, expected and actual hash on a checksum mismatch', async () => {
    const body = testBytes(MiB);
    const wrong = sha256Hex(Buffer.from('something else'));
    server.route('/k', { body });
    const d = make();
    const url = server.url('/k');
    const err = await failure(d.download({ url, sha256: wrong }));
    expect(err.code).toBe('CHECKSUM');
    expect(err.message).toContain(url);
    expect(err.message).toContain(wrong);
    expect(err.message).toContain(sha256Hex(body));
    expect(partFiles(d)).toEqual([]);
    expect(await d.cas.list()).toEqual([]);
    expect(server.requests).toHaveLength(1);
    expect(state.get(wrong)).toMatchObject({ state: 'failed', error: { code: 'CHECKSUM' } });
  });

  it('treats a body shorter than its Content-Length as a network error and resumes', async () => {
    const body = testBytes(2 * MiB);
    server.route('/k', ({ index }) => (index === 0 ? { body, contentLength: body.length + 5000 } : { body }));
    const res = await make().download({ url: server.url('/k'), sha256: sha256Hex(body) });
    expect(fs.readFileSync(res.path).equals(body)).toBe(true);
    expect(server.requests.length).toBeGreaterThan(1);
  });

  it('gives up with NETWORK, naming the URL, when every body is truncated', async () => {
    const body = testBytes(MiB);
    server.route('/k', { body, contentLength: body.length + 5000 });
    const d = make({ retry: { retries: 2, baseDelayMs: 1, maxDelayMs: 2 } });
    const err = await failure(d.download({ url: server.url('/k') }));
    expect(err.code).toBe('NETWORK');
    expect(err.message).toContain(server.url('/k'));
    expect(state.get(Downloader.defaultId({ url: server.url('/k') }))).toMatchObject({ state: 'failed' });
  });

  it('does not retry a 404 and names URL and status', async () => {
    const d = make();
    const url = server.url('/missing.tar.gz');
    const err = await failure(d.download({ url }));
    expect(err.code).toBe('HTTP');
    expect(err.message).toContain(url);
    expect(err.message).toContain('404');
    expect(server.requests).toHaveLength(1);
  });

  it('retries a 500, and gives up after the retry budget', async () => {
    const body = testBytes(MiB);
    server.route('/flaky', ({ index }) => (index < 2 ? { status: 500 } : { body }));
    const res = await make().download({ url: server.url('/flaky'), sha256: sha256Hex(body) });
    expect(fs.readFileSync(res.path).equals(body)).toBe(true);
    expect(server.requestsTo('/flaky').map((r) => r.status)).toEqual([500, 500, 200]);

    server.route('/down', { status: 503 });
    const err = await failure(make().download({ url: server.url('/down') }));
    expect(err.code).toBe('HTTP');
    expect(err.message).toContain('503');
    expect(server.requestsTo('/down')).toHaveLength(4); // first try + 3 retries
  });

  it('aborts a stalled transfer and resumes from the bytes it got', async () => {
    const body = testBytes(2 * MiB);
    server.route('/k', ({ index }) => (index === 0 ? { body, stallAfter: 512 * 1024 } : { body }));
    const res = await make({ stallTimeoutMs: 1000 }).download({ url: server.url('/k'), sha256: sha256Hex(body) });
    expect(fs.readFileSync(res.path).equals(body)).toBe(true);
    expect(rangeStart(server.requests[1]!.headers)).toBe(512 * 1024);
    expect(server.bytesServed()).toBe(body.length);
  });

  it('reports TIMEOUT when the server always stalls', async () => {
    // Headers, then silence: no try makes progress, so the retry budget runs out.
    server.route('/k', { body: testBytes(MiB), stallAfter: 0 });
    const d = make({ stallTimeoutMs: 100, retry: { retries: 1, baseDelayMs: 1, maxDelayMs: 1 } });
    const err = await failure(d.download({ url: server.url('/k') }));
    expect(err.code).toBe('TIMEOUT');
    expect(err.message).toContain(server.url('/k'));
    expect(server.requests).toHaveLength(2);
  });

  it('follows redirects', async () => {
    const body = testBytes(MiB);
    server.route('/latest', { status: 302, location: '/v2/k' });
    server.route('/v2/k', { status: 307, location: server.url('/blob/k') });
    server.route('/blob/k', { body });
    const res = await make().download({ url: server.url('/latest'), sha256: sha256Hex(body) });
    expect(fs.readFileSync(res.path).equals(body)).toBe(true);
    expect(server.requests.map((r) => r.url)).toEqual(['/latest', '/v2/k', '/blob/k']);
  });

  it('refuses a redirect loop and too many redirects, without retrying', async () => {
    server.route('/a', { status: 302, location: '/b' });
    server.route('/b', { status: 301, location: '/a' });
    const err = await failure(make().download({ url: server.url('/a') }));
    expect(err.code).toBe('HTTP');
    expect(err.message).toMatch(/redirect loop/i);
    expect(err.message).toContain(server.url('/a'));
    expect(server.requests).toHaveLength(2);

    for (let i = 0; i < 5; i++) server.route(`/r${i}`, { status: 302, location: `/r${i + 1}` });
    const err2 = await failure(make({ maxRedirects: 3 }).download({ url: server.url('/r0') }));
    expect(err2.code).toBe('HTTP');
    expect(err2.message).toMatch(/too many redirects/i);
  });

  it('gives two concurrent requests for one artifact one transfer', async () => {
    const body = testBytes(2 * MiB);
    const sha = sha256Hex(body);
    server.route('/k', { body, sliceDelayMs: 2 });
    server.route('/mirror/k', { body });
    const d = make();
    const seen: string[] = [];
    const [a, b] = await Promise.all([
      d.download({ url: server.url('/k'), sha256: sha, onProgress: () => seen.push('a') }),
      d.download({ url: server.url('/mirror/k'), sha256: sha, onProgress: () => seen.push('b') }),
    ]);
    expect(a).toEqual(b);
    expect(server.requests).toHaveLength(1);
    expect(server.bytesServed()).toBe(body.length);
    expect(seen).toContain('a');
    expect(seen).toContain('b');

    // Same URL, no hash: also one transfer.
    server.route('/u', { body: testBytes(MiB, 9), sliceDelayMs: 2 });
    const [c, e] = await Promise.all([d.download({ url: server.url('/u') }), d.download({ url: server.url('/u') })]);
    expect(c).toEqual(e);
    expect(server.requestsTo('/u')).toHaveLength(1);
  });

  it('runs no more transfers at once than the concurrency limit', async () => {
    const bodies = [testBytes(MiB, 1), testBytes(MiB, 2), testBytes(MiB, 3)];
    // What every earlier request had been served when each request arrived.
    const seenOnArrival: number[][] = [];
    bodies.forEach((body, i) =>
      server.route(`/${i}`, () => {
        seenOnArrival.push(server.requests.slice(0, -1).map((r) => r.bytesServed));
        return { body, sliceDelayMs: 1 };
      }),
    );
    const d = make({ concurrency: 1 });
    const results = await Promise.all(bodies.map((_, i) => d.download({ url: server.url(`/${i}`) })));
    expect(results.map((r) => r.sha256)).toEqual(bodies.map(sha256Hex));
    // With a limit of 1, each transfer starts only after the previous ones were served in full.
    expect(seenOnArrival).toEqual([[], [MiB], [MiB, MiB]]);
  });

  it('fails with DISK_FULL and installs nothing when a write hits ENOSPC', async () => {
    const body = testBytes(3 * MiB);
    server.route('/k', { body });
    const d = make({
      write: async (file, chunks, position) => {
        if (position >= MiB)
          throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        await writeChunks(file, chunks, position);
      },
    });
    const sha = sha256Hex(body);
    const err = await failure(d.download({ url: server.url('/k'), sha256: sha }));
    expect(err.code).toBe('DISK_FULL');
    expect(err.message).toContain(d.partialDir);
    expect(err.message).toContain(server.url('/k'));
    expect(partFiles(d)).toEqual([]);
    expect(await d.cas.list()).toEqual([]);
    expect(server.requests).toHaveLength(1);
    expect(state.get(sha)).toMatchObject({ state: 'failed', error: { code: 'DISK_FULL' } });
  });

  it('checks free space against Content-Length before writing', async () => {
    const huge = 2 ** 50;
    server.route('/huge', { body: testBytes(1024), contentLength: huge });
    const d = make();
    const err = await failure(d.download({ url: server.url('/huge') }));
    expect(err.code).toBe('DISK_FULL');
    expect(err.message).toContain(d.partialDir);
    expect(err.message).toContain(`need ${huge} bytes`);
    expect(err.message).toMatch(/only \d+ bytes .* free/);
    expect(server.requests).toHaveLength(1);
  });

  it('cancels through an AbortSignal, keeps the .part, and resumes later', async () => {
    const body = testBytes(4 * MiB);
    const sha = sha256Hex(body);
    server.route('/k', { body, sliceDelayMs: 10 });
    const d = make();
    const ac = new AbortController();
    const err = await failure(
      d.download({ url: server.url('/k'), sha256: sha, signal: ac.signal, onProgress: () => ac.abort() }),
    );
    expect(err.code).toBe('CANCELLED');
    const rec = state.get(sha)!;
    expect(rec).toMatchObject({ state: 'cancelled', error: { code: 'CANCELLED' } });
    const kept = fs.statSync(rec.partPath).size;
    expect(kept).toBeGreaterThan(0);

    const res = await d.download({ url: server.url('/k'), sha256: sha });
    expect(fs.readFileSync(res.path).equals(body)).toBe(true);
    expect(rangeStart(server.requests[1]!.headers)).toBe(kept);
  });

  it('cancels by id, discarding the .part when asked', async () => {
    const body = testBytes(4 * MiB);
    const sha = sha256Hex(body);
    server.route('/k', { body, sliceDelayMs: 10 });
    const d = make();
    let cancelled: Promise<boolean> | undefined;
    const err = await failure(
      d.download({
        url: server.url('/k'),
        sha256: sha,
        onProgress: () => {
          cancelled ??= d.cancel(sha, { discard: true });
        },
      }),
    );
    expect(err.code).toBe('CANCELLED');
    expect(await cancelled).toBe(true);
    expect(partFiles(d)).toEqual([]);
    expect(state.get(sha)).toMatchObject({ state: 'cancelled' });
    expect(await d.cancel('no-such-download')).toBe(false);
  });
});
