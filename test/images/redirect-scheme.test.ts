/**
 * A download whose server redirects to a non-http(s) URL (here `file:`) fails
 * at once through the real `oklinux pull`: exit 5, a message naming the scheme,
 * and exactly one request (no retries with backoff).
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { sha256Hex, testBytes } from '../helpers/http';
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
