import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CatalogListing, VerifyResult } from '@contract';
import { sha256Hex, testBytes } from '../helpers/http';
import { jsonLines, publish, sandbox, type Published, type Sandbox } from './fixtures';

let s: Sandbox;
beforeEach(async () => {
  s = await sandbox();
});
afterEach(() => s.close());

const release = (n: number, claimedSha256?: string) => ({
  kernelRelease: `6.6.${n}-08000-g${'d'.repeat(12)}`,
  commit: String(n % 10).repeat(40),
  publishedAt: `2025-05-${String(n % 28).padStart(2, '0')}T00:40:00Z`,
  bzImage: testBytes(150_000, n),
  ...(claimedSha256 ? { claimedSha256 } : {}),
});

async function installed(ref: string): Promise<boolean | undefined> {
  const r = await s.cli(['images', '--json']);
  return CatalogListing.parse(JSON.parse(r.stdout)).entries.find((e) => e.ref === ref)?.installed;
}

describe('integrity', () => {
  it('installs nothing when the published .sha256 lies, and names URL, expected and actual', async () => {
    const lie = 'e'.repeat(64);
    const [rel] = (await publish(s, [release(41, lie)])) as [Published];
    const r = await s.cli(['pull', rel.tag]);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain(s.server.url(rel.assetPath));
    expect(r.stderr).toContain(lie);
    expect(r.stderr).toContain(sha256Hex(rel.tarball));
    expect(s.stored()).toEqual([]);
    expect(fs.readdirSync(path.join(s.home, 'downloads'))).toEqual([]);
    expect(await installed(rel.tag)).toBe(false);

    const json = await s.cli(['pull', rel.tag, '--json']);
    expect(json.code).toBe(6);
    expect(jsonLines(json.stdout).at(-1)).toMatchObject({ error: { code: 'CHECKSUM' } });
  });

  it('verify passes on clean artifacts and names a corrupted one (exit 6); pull repairs it', async () => {
    const [rel] = (await publish(s, [release(42)])) as [Published];
    expect((await s.cli(['pull', rel.tag])).code).toBe(0);

    const clean = await s.cli(['verify', '--json']);
    expect(clean.code, clean.stderr).toBe(0);
    const results = VerifyResult.array().parse(JSON.parse(clean.stdout));
    expect(results.map((x) => x.sha256).sort()).toEqual([rel.bzImageSha, sha256Hex(rel.tarball)].sort());
    expect(results.every((x) => x.ok)).toBe(true);

    // Flip one byte of the installed kernel (same size, so only a rehash can tell).
    const kernel = path.join(s.home, 'store', 'sha256', rel.bzImageSha);
    const bytes = fs.readFileSync(kernel);
    bytes[1000] = bytes[1000]! ^ 0xff;
    fs.writeFileSync(kernel, bytes);

    const bad = await s.cli(['verify']);
    expect(bad.code).toBe(6);
    expect(bad.stdout).toMatch(new RegExp(`DAMAGED .*${kernel}: .*${sha256Hex(bytes)}`));
    expect(bad.stdout).toContain(rel.tag);
    expect(bad.stdout).toContain('1 damaged');

    // The damaged file was taken out of the store, so the next pull puts a good one back.
    const fix = await s.cli(['pull', rel.tag]);
    expect(fix.code, fix.stderr).toBe(0);
    expect(sha256Hex(fs.readFileSync(kernel))).toBe(rel.bzImageSha);
    expect((await s.cli(['verify'])).code).toBe(0);
  });

  it('rm <image> removes the image and the artifacts nothing else uses', async () => {
    const [a, b] = (await publish(s, [release(43), release(44)])) as [Published, Published];
    expect((await s.cli(['pull', a.tag])).code).toBe(0);
    expect((await s.cli(['pull', b.tag])).code).toBe(0);
    expect(s.stored()).toHaveLength(4); // two tarballs, two kernels

    const r = await s.cli(['rm', a.tag]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Removed the image ${a.tag}`);
    expect(s.stored()).toEqual([b.bzImageSha]);
    expect(await installed(a.tag)).toBe(false);
    expect(await installed(b.tag)).toBe(true);
    expect((await s.cli(['verify'])).code).toBe(0);

    const again = await s.cli(['rm', a.tag]);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain(a.tag);
  });
});
