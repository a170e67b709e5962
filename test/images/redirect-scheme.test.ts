/**
 * A download whose server redirects to a non-http(s) URL (here `file:`) fails
 * at once through the real `oklinux pull`: exit 5, a message naming the scheme,
 * and exactly one request (no retries with backoff). Catalog requests (which
 * follow their redirects themselves) refuse it the same way, and never carry
 * the GitHub token to another origin.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { redirectProblem } from '@core/download/redirect';
import { sha256Hex, startTestServer, testBytes } from '../helpers/http';
import { RELEASES_PATH } from './fixtures';
import { sandbox, type Sandbox } from './fixtures';

let s: Sandbox;
beforeEach(async () => {
  s = await sandbox();
});
afterEach(() => s.close());

it('pull refuses a redirect to file: at once, without retrying', async () => {
  const kernel = testBytes(50_000, 41);
  s.server.route('/dist/vmlinuz', { status: 302, location: 'file:///etc/passwd' });
  s.server.route('/dist/manifest.json', {
    body: Buffer.from(
      JSON.stringify({
        schema: 1,
        bundles: [
          {
            name: 'redirected',
            version: '1',
            arch: 'x86_64',
            cmdline: 'console=ttyS0',
            artifacts: { kernel: { url: 'vmlinuz', sha256: sha256Hex(kernel), size: kernel.length } },
          },
        ],
      }),
    ),
  });
  expect((await s.cli(['catalog', 'add', s.server.url('/dist/manifest.json')])).code).toBe(0);

  const started = Date.now();
  const r = await s.cli(['pull', 'redirected']);
  const took = Date.now() - started;
  expect(r.code, r.stderr).toBe(5);
  expect(r.stderr).toMatch(/redirected to a file: URL \(file:\/\/\/etc\/passwd\)/);
  expect(r.stderr).toMatch(/only http and https redirects are followed/);
  expect(s.server.requestsTo('/dist/vmlinuz')).toHaveLength(1);
  // the old code retried five times with backoff (0.5 s, 1 s, 2 s…) before giving up
  expect(took).toBeLessThan(20_000);
  expect(s.stored()).toEqual([]);
});

it('catalog add refuses a manifest that redirects to file:, at once', async () => {
  s.server.route('/m.json', { status: 302, location: 'file:///etc/passwd' });
  const r = await s.cli(['catalog', 'add', s.server.url('/m.json')]);
  expect(r.code, r.stderr).toBe(5);
  expect(r.stderr).toMatch(
    /redirected to a file: URL \(file:\/\/\/etc\/passwd\); only http and https redirects are followed/,
  );
  expect(s.server.requestsTo('/m.json')).toHaveLength(1);
});

it('the GitHub listing follows a redirect to another origin without the token', async () => {
  const mirror = await startTestServer();
  try {
    mirror.route('/releases', { body: Buffer.from('[]') });
    s.server.route(RELEASES_PATH, { status: 302, location: mirror.url('/releases') });
    const r = await s.cli(['images', '--refresh', '--json'], { env: { GITHUB_TOKEN: 'sekrit-token' } });
    expect(r.code, r.stderr).toBe(0);
    expect(s.server.requestsTo(RELEASES_PATH)[0]?.headers.authorization).toBe('Bearer sekrit-token');
    expect(mirror.requestsTo('/releases')).toHaveLength(1);
    expect(mirror.requestsTo('/releases')[0]?.headers.authorization).toBeUndefined();
  } finally {
    await mirror.close();
  }
});

describe('redirect rules shared by downloads and catalog requests', () => {
  it('refuses other schemes and any https -> http downgrade; follows the rest', () => {
    const next = (s: string) => new URL(s);
    expect(redirectProblem('https://a.example/m.json', next('http://b.example/m.json'))).toContain(
      'redirected from https to plain http (http://b.example/m.json)',
    );
    expect(redirectProblem('http://a.example/x', next('file:///etc/passwd'))).toContain(
      'only http and https redirects are followed',
    );
    expect(redirectProblem('http://a.example/x', next('https://b.example/x'))).toBeNull();
    expect(redirectProblem('https://a.example/x', next('https://b.example/x'))).toBeNull();
    expect(redirectProblem('http://a.example/x', next('http://b.example/x'))).toBeNull();
  });
});
