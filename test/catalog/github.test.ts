import { afterEach, describe, expect, it } from 'vitest';
import {
  fetchSha256File,
  formatLocalTime,
  listReleases,
  parseSha256File,
  resolveGithubApi,
  type HttpCache,
  type HttpCacheEntry,
} from '@core/catalog';
import { isOkError, type OkError } from '@contract/errors';
import { serve, sendJson, type LocalServer } from './local-server';
import { appRelease, ghRelease, hex40, kernelAssetName } from './fixtures';

const servers: LocalServer[] = [];
async function server(...args: Parameters<typeof serve>): Promise<LocalServer> {
  const s = await serve(...args);
  servers.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function rejection(p: Promise<unknown>): Promise<OkError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isOkError(e)) throw new Error(`expected an OkError, got ${String(e)}`);
  return e;
}

class MemoryCache implements HttpCache {
  readonly map = new Map<string, HttpCacheEntry>();
  get(url: string) {
    return this.map.get(url);
  }
  put(url: string, etag: string, body: string) {
    this.map.set(url, { etag, body });
  }
}

const LIST = '/repos/sevki/okLinux/releases?per_page=100';

describe('listReleases', () => {
  it('reads a GitHub-shaped listing with the real asset names, newest first', async () => {
    const s = await server((req, res, origin) => {
      sendJson(res, 200, [
        ghRelease(origin, {
          kernelRelease: '6.6.70-07999-gabcdef012345',
          commit: hex40('abcdef012345'),
          publishedAt: '2025-02-01T00:40:00Z',
        }),
        appRelease(origin),
        ghRelease(origin, {
          kernelRelease: '6.6.76-08024-g4f1e2d3c5b6a',
          commit: hex40('4f1e2d3c5b6a'),
          date: '20250301',
          publishedAt: '2025-03-01T00:41:13Z',
        }),
        ghRelease(origin, {
          kernelRelease: '6.6.74-08010-g0123456789ab',
          commit: hex40('0123456789ab'),
          date: '20250215',
          publishedAt: '2025-02-15T00:39:00Z',
          withSha256: false,
        }),
        ghRelease(origin, {
          kernelRelease: '6.6.77-08030-g999999999999',
          commit: hex40('9'),
          publishedAt: '2025-03-02T00:39:00Z',
          draft: true,
        }),
      ]);
    });
    const { releases, notModified, pages } = await listReleases({ api: s.origin, token: '' });

    expect(pages).toBe(1);
    expect(notModified).toBe(false);
    expect(releases.map((r) => r.tag)).toEqual([
      'kernel-6.6.76-08024-g4f1e2d3c5b6a-20250301-4f1e2d3',
      'kernel-6.6.74-08010-g0123456789ab-20250215-0123456',
      'kernel-6.6.70-07999-gabcdef012345-abcdef0',
    ]);
    const newest = releases[0]!;
    const asset = kernelAssetName({ kernelRelease: '6.6.76-08024-g4f1e2d3c5b6a', commit: hex40('4f1e2d3c5b6a') });
    expect(newest).toEqual({
      tag: 'kernel-6.6.76-08024-g4f1e2d3c5b6a-20250301-4f1e2d3',
      kernelRelease: '6.6.76-08024-g4f1e2d3c5b6a',
      commitSha: hex40('4f1e2d3c5b6a'),
      buildDate: '2025-03-01',
      publishedAt: '2025-03-01T00:41:13Z',
      prerelease: false,
      htmlUrl: 'https://github.com/sevki/okLinux/releases/tag/kernel-6.6.76-08024-g4f1e2d3c5b6a-20250301-4f1e2d3',
      kernel: {
        name: asset,
        url: `${s.origin}/sevki/okLinux/releases/download/${newest.tag}/${asset}`,
        size: 12_345_678,
      },
      sha256: {
        name: `${asset}.sha256`,
        url: `${s.origin}/sevki/okLinux/releases/download/${newest.tag}/${asset}.sha256`,
      },
    });
    expect(releases[1]!.sha256).toBeNull();
    expect(releases[2]!.buildDate).toBeNull();

    expect(s.requests).toHaveLength(1);
    const req = s.requests[0]!;
    expect(req.url).toBe(LIST);
    expect(req.headers.accept).toBe('application/vnd.github+json');
    expect(req.headers['user-agent']).toMatch(/oklinux-desktop/);
    expect(req.headers.authorization).toBeUndefined();
  });

  it('follows Link rel="next" over three pages', async () => {
    const pageOf = (url: string) => Number(new URL(url, 'http://x').searchParams.get('page') ?? '1');
    const s = await server((req, res, origin) => {
      const page = pageOf(req.url!);
      const link = (p: number) => `<${origin}/repos/sevki/okLinux/releases?per_page=100&page=${p}>`;
      const rels =
        page === 1
          ? `${link(2)}; rel="next", ${link(3)}; rel="last"`
          : page === 2
            ? `${link(1)}; rel="prev", ${link(3)}; rel="next", ${link(3)}; rel="last", ${link(1)}; rel="first"`
            : `${link(2)}; rel="prev", ${link(1)}; rel="first"`;
      const releases = [0, 1].map((i) =>
        ghRelease(origin, {
          kernelRelease: `6.6.${page * 10 + i}-1-gabc`,
          commit: hex40(String(page * 10 + i)),
          publishedAt: `2025-0${page}-1${i}T00:00:00Z`,
        }),
      );
      sendJson(res, 200, releases, { link: rels });
    });
    const { releases, pages } = await listReleases({ api: s.origin, token: '' });
    expect(pages).toBe(3);
    expect(s.requests.map((r) => pageOf(r.url))).toEqual([1, 2, 3]);
    expect(releases.map((r) => r.kernelRelease)).toEqual([
      '6.6.31-1-gabc',
      '6.6.30-1-gabc',
      '6.6.21-1-gabc',
      '6.6.20-1-gabc',
      '6.6.11-1-gabc',
      '6.6.10-1-gabc',
    ]);
  });

  it('sends If-None-Match with the stored ETag and reuses the cached pages on 304', async () => {
    let version = 1;
    const s = await server((req, res, origin) => {
      const page = req.url!.includes('page=2') ? 2 : 1;
      const etag = `W/"p${page}-v${page === 1 ? version : 1}"`;
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { etag }); // no Link header: the cached one must be used
        res.end();
        return;
      }
      const next: Record<string, string> =
        page === 1 ? { link: `<${origin}/repos/sevki/okLinux/releases?per_page=100&page=2>; rel="next"` } : {};
      const spec =
        page === 1
          ? { kernelRelease: `6.6.9${version}-1-gaaa`, commit: hex40('a'), publishedAt: '2025-03-01T00:00:00Z' }
          : { kernelRelease: '6.6.50-1-gbbb', commit: hex40('b'), publishedAt: '2025-01-01T00:00:00Z' };
      sendJson(res, 200, [ghRelease(origin, spec)], { etag, ...next });
    });
    const cache = new MemoryCache();

    const first = await listReleases({ api: s.origin, token: '', cache });
    expect(first.notModified).toBe(false);
    expect(cache.map.size).toBe(2);
    expect(s.requests.map((r) => r.headers['if-none-match'])).toEqual([undefined, undefined]);

    const second = await listReleases({ api: s.origin, token: '', cache });
    expect(s.requests.slice(2).map((r) => r.headers['if-none-match'])).toEqual(['W/"p1-v1"', 'W/"p2-v1"']);
    expect(second.notModified).toBe(true);
    expect(second.pages).toBe(2);
    expect(second.releases).toEqual(first.releases);

    version = 2; // page 1 changes; page 2 still answers 304
    const third = await listReleases({ api: s.origin, token: '', cache });
    expect(third.notModified).toBe(false);
    expect(third.releases.map((r) => r.kernelRelease)).toEqual(['6.6.92-1-gaaa', '6.6.50-1-gbbb']);
  });

  it('turns a 403 rate-limit answer into RATE_LIMITED naming the local reset time', async () => {
    const resetSec = Math.floor(Date.now() / 1000) + 3600;
    const s = await server((_req, res) => {
      sendJson(
        res,
        403,
        { message: 'API rate limit exceeded for 127.0.0.1.' },
        {
          'x-ratelimit-limit': '60',
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(resetSec),
        },
      );
    });
    const e = await rejection(listReleases({ api: s.origin, token: '' }));
    expect(e.code).toBe('RATE_LIMITED');
    const d = new Date(resetSec * 1000);
    const hhmmss = [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
    expect(e.message).toContain(`Try again after`);
    expect(e.message).toContain(hhmmss);
    expect(e.message).toContain('local time');
    expect(e.message).toContain('Set GITHUB_TOKEN');
  });

  it('reads retry-after on a 429, and says the token is limited when one was sent', async () => {
    const s = await server((_req, res) => {
      sendJson(res, 429, { message: 'You have exceeded a secondary rate limit.' }, { 'retry-after': '120' });
    });
    const now = Date.parse('2025-03-01T12:00:00Z');
    const e = await rejection(listReleases({ api: s.origin, token: 'ghp_x', now: () => now }));
    expect(e.code).toBe('RATE_LIMITED');
    expect(e.message).toContain(formatLocalTime(now + 120_000, now));
    expect(e.message).toContain('in about 2 min');
    expect(e.message).toContain('the token in GITHUB_TOKEN');
  });

  it('sends GITHUB_TOKEN as a Bearer token, but only to the API origin', async () => {
    const other = await server((_req, res) => sendJson(res, 200, []));
    const api = await server((_req, res) => {
      sendJson(res, 200, [], { link: `<${other.origin}/elsewhere?page=2>; rel="next"` });
    });
    const saved = process.env.GITHUB_TOKEN;
    process.env.GITHUB_TOKEN = 'ghp_testtoken123';
    try {
      await listReleases({ api: api.origin });
    } finally {
      if (saved === undefined) delete process.env.GITHUB_TOKEN;
      else process.env.GITHUB_TOKEN = saved;
    }
    expect(api.requests[0]!.headers.authorization).toBe('Bearer ghp_testtoken123');
    expect(other.requests).toHaveLength(1);
    expect(other.requests[0]!.headers.authorization).toBeUndefined();
  });

  it('explains a rejected token, other HTTP errors and an unreachable API', async () => {
    const s = await server((req, res) => {
      if (req.headers.authorization) sendJson(res, 401, { message: 'Bad credentials' });
      else sendJson(res, 500, { message: 'boom' });
    });
    const bad = await rejection(listReleases({ api: s.origin, token: 'nope' }));
    expect(bad.code).toBe('HTTP');
    expect(bad.message).toMatch(/GITHUB_TOKEN/);

    const e500 = await rejection(listReleases({ api: s.origin, token: '' }));
    expect(e500.code).toBe('HTTP');
    expect(e500.message).toContain(`${s.origin}${LIST} answered 500`);

    const gone = await server((_req, res) => res.end());
    const origin = gone.origin;
    await gone.close();
    servers.splice(servers.indexOf(gone), 1);
    const net = await rejection(listReleases({ api: origin, token: '' }));
    expect(net.code).toBe('NETWORK');
    expect(net.message).toContain(origin);
    expect(net.message).toContain('ECONNREFUSED');
  });
});

describe('resolveGithubApi', () => {
  it('prefers OKLINUX_GITHUB_API, then the setting, then api.github.com', () => {
    expect(resolveGithubApi(undefined, {})).toBe('https://api.github.com');
    expect(resolveGithubApi('https://ghe.example/api/v3/', {})).toBe('https://ghe.example/api/v3');
    expect(resolveGithubApi('https://ghe.example/api/v3', { OKLINUX_GITHUB_API: 'http://127.0.0.1:9/' })).toBe(
      'http://127.0.0.1:9',
    );
  });
  it('names the source of a bad value', () => {
    expect(() => resolveGithubApi(undefined, { OKLINUX_GITHUB_API: 'not a url' })).toThrow(/OKLINUX_GITHUB_API/);
    expect(() => resolveGithubApi('ftp://x', {})).toThrow(/githubApi setting must be an http\(s\) URL/);
  });
});

describe('sha256sum files', () => {
  const NAME = 'oklinux-kernel-x86_64-6.6.76-08024-g4f1e2d3c5b6a-' + hex40('4f1e2d3c5b6a') + '.tar.gz';
  const HEX = 'ab'.repeat(32);

  it('fetches and parses the .sha256 asset over HTTP', async () => {
    const s = await server((req, res) => {
      const bodies: Record<string, [number, string]> = {
        '/good.sha256': [200, `${HEX.toUpperCase()}  ${NAME}\n`],
        '/other.sha256': [200, `${HEX}  some-other-file.tar.gz\n`],
        '/junk.sha256': [200, '<html>not a checksum</html>\n'],
        '/empty.sha256': [200, '\n'],
      };
      const [status, body] = bodies[req.url!] ?? [404, 'Not Found'];
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(body);
    });
    expect(await fetchSha256File(`${s.origin}/good.sha256`, NAME)).toBe(HEX);

    const other = await rejection(fetchSha256File(`${s.origin}/other.sha256`, NAME));
    expect(other.code).toBe('CHECKSUM');
    expect(other.message).toContain(`has no digest for ${NAME}`);
    expect(other.message).toContain('some-other-file.tar.gz');

    const junk = await rejection(fetchSha256File(`${s.origin}/junk.sha256`, NAME));
    expect(junk.code).toBe('CHECKSUM');
    expect(junk.message).toContain(`${s.origin}/junk.sha256 line 1 is not in sha256sum format`);

    const empty = await rejection(fetchSha256File(`${s.origin}/empty.sha256`, NAME));
    expect(empty.message).toContain('is empty');

    const missing = await rejection(fetchSha256File(`${s.origin}/missing.sha256`, NAME));
    expect(missing.code).toBe('HTTP');
    expect(missing.message).toContain('answered 404');
  });

  it('accepts binary-mode markers, paths, SHA256SUMS lists and a lone bare digest', () => {
    expect(parseSha256File(`${HEX} *${NAME}`, NAME, 'f')).toBe(HEX);
    expect(parseSha256File(`${HEX}  ./dist/${NAME}\r\n`, NAME, 'f')).toBe(HEX);
    expect(parseSha256File(`${'00'.repeat(32)}  a.img\n${HEX}  ${NAME}\n`, NAME, 'f')).toBe(HEX);
    expect(parseSha256File(`${HEX}\n`, NAME, 'f')).toBe(HEX);
    expect(() => parseSha256File(`${HEX}  ${NAME}\n${'00'.repeat(32)}  ${NAME}`, NAME, 'f')).toThrow(
      /2 different digests/,
    );
    expect(() => parseSha256File(`${HEX.slice(2)}  ${NAME}`, NAME, 'f')).toThrow(/sha256sum format/);
  });
});
