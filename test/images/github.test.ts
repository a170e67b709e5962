import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CatalogListing, DownloadProgress, Image } from '@contract';
import { sha256Hex, testBytes } from '../helpers/http';
import { RELEASES_PATH, jsonLines, publish, sandbox, type Published, type Sandbox } from './fixtures';

let s: Sandbox;
let older: Published;
let newer: Published;

beforeEach(async () => {
  s = await sandbox();
  [newer, older] = (await publish(s, [
    {
      kernelRelease: '6.6.80-08100-gaaaaaaaaaaaa',
      commit: 'a'.repeat(40),
      publishedAt: '2025-03-02T00:40:00Z',
      bzImage: testBytes(300_000, 11),
    },
    {
      kernelRelease: '6.6.76-08024-gbbbbbbbbbbbb',
      commit: 'b'.repeat(40),
      publishedAt: '2025-03-01T00:40:00Z',
      bzImage: testBytes(200_000, 12),
    },
  ])) as [Published, Published];
});
afterEach(() => s.close());

function storedBytes(sha: string): Buffer {
  return fs.readFileSync(path.join(s.home, 'store', 'sha256', sha));
}

describe('okLinux releases from a GitHub-shaped API (OKLINUX_GITHUB_API)', () => {
  it('lists the releases, newest first, and reuses the listing on 304', async () => {
    const r = await s.cli(['images', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const listing = CatalogListing.parse(JSON.parse(r.stdout));
    expect(listing.warnings.filter((w) => w.includes(s.server.origin))).toEqual([]);
    // Only the releases: built-in manifests may add bundles to the same list.
    const releases = listing.entries.filter((e) => e.kind === 'oklinux-release');
    expect(releases.map((e) => [e.ref, e.kind, e.installable, e.installed])).toEqual([
      [newer.tag, 'oklinux-release', true, false],
      [older.tag, 'oklinux-release', true, false],
    ]);
    expect(releases[0]!.version).toBe('6.6.80-08100-gaaaaaaaaaaaa');
    expect(releases[0]!.size).toBe(newer.tarball.length);

    // A second run (a new process) asks with the stored ETag, is answered 304 and lists the same.
    const again = await s.cli(['images', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(CatalogListing.parse(JSON.parse(again.stdout)).entries).toEqual(listing.entries);
    const asks = s.server.requestsTo(RELEASES_PATH);
    expect(asks.map((q) => [q.status, q.headers['if-none-match'] !== undefined])).toEqual([
      [200, false],
      [304, true],
    ]);

    const human = await s.cli(['images']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`${newer.tag}\\s+oklinux-release\\s+6\\.6\\.80`));
  });

  it('pulls a release by tag: the installed kernel is the extracted bzImage', async () => {
    const r = await s.cli(['pull', older.tag]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Installed ${older.tag}`);
    expect(sha256Hex(storedBytes(older.bzImageSha))).toBe(older.bzImageSha);
    // The tarball was fetched whole, once, after its .sha256.
    expect(s.server.requestsTo(older.assetPath).map((q) => [q.status, q.headers.range])).toEqual([[200, undefined]]);
    expect(s.server.requestsTo(`${older.assetPath}.sha256`)).toHaveLength(1);

    const listed = CatalogListing.parse(JSON.parse((await s.cli(['images', '--json'])).stdout));
    expect(listed.entries.find((e) => e.ref === older.tag)?.installed).toBe(true);
    expect(listed.entries.find((e) => e.ref === newer.tag)?.installed).toBe(false);

    // Pulling again is a no-op: nothing more is downloaded.
    const again = await s.cli(['pull', older.tag]);
    expect(again.code, again.stderr).toBe(0);
    expect(s.server.requestsTo(older.assetPath)).toHaveLength(1);
  });

  it('pull latest --json prints progress lines, then the installed image', async () => {
    const r = await s.cli(['pull', 'latest', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const lines = jsonLines(r.stdout);
    const last = lines.pop()!;
    expect(last.event).toBe('installed');
    const image = Image.parse(last.image);
    expect(image).toMatchObject({ ref: newer.tag, kind: 'oklinux-release', version: '6.6.80-08100-gaaaaaaaaaaaa' });
    expect(image.artifacts).toEqual([{ role: 'kernel', sha256: newer.bzImageSha, size: 300_000 }]);
    expect(sha256Hex(storedBytes(newer.bzImageSha))).toBe(newer.bzImageSha);

    expect(lines.length).toBeGreaterThanOrEqual(2);
    const progress = lines.map((l) => {
      expect(l.event).toBe('progress');
      const { event: _event, ...rest } = l;
      return DownloadProgress.parse(rest);
    });
    expect(progress[0]).toMatchObject({ state: 'running', total: newer.tarball.length });
    expect(progress.at(-1)).toMatchObject({
      state: 'done',
      bytes: newer.tarball.length,
      total: newer.tarball.length,
      url: s.server.url(newer.assetPath),
    });
  });

  it('names the closest tags when the ref is unknown', async () => {
    const r = await s.cli(['pull', newer.tag.slice(0, -1)]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(newer.tag);
  });
});
