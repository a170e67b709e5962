import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CatalogListing, CatalogSource, Image } from '@contract';
import { sha256Hex, testBytes } from '../helpers/http';
import { closedPort, jsonLines, kernelTarball, sandbox, type Sandbox } from './fixtures';

let s: Sandbox;
let bzImage: Buffer;
let initrd: Buffer;

beforeEach(async () => {
  s = await sandbox();
  bzImage = testBytes(120_000, 31);
  initrd = testBytes(40_000, 32);
  const tarball = await kernelTarball(bzImage, s.work);
  s.server.route('/dist/files/kernel.tar.gz', { body: tarball });
  s.server.route('/dist/files/initrd.img', { body: initrd });
  s.server.route('/dist/files/initrd.img.sha256', { body: Buffer.from(`${sha256Hex(initrd)}  initrd.img\n`) });
  s.server.route('/dist/manifest.json', {
    body: Buffer.from(
      JSON.stringify({
        schema: 1,
        bundles: [
          {
            name: 'tiny-1',
            version: '1.0',
            arch: 'x86_64',
            cmdline: 'console=ttyS0 quiet',
            artifacts: {
              // Relative to the manifest's own URL.
              kernel: {
                url: 'files/kernel.tar.gz',
                sha256: sha256Hex(tarball),
                size: tarball.length,
                extract: 'arch/x86/boot/bzImage',
              },
              initrd: { url: 'files/initrd.img', sha256Url: 'files/initrd.img.sha256', size: initrd.length },
            },
          },
        ],
        vmm: [],
      }),
    ),
  });
});
afterEach(() => s.close());

async function listing(env?: NodeJS.ProcessEnv): Promise<{ listing: CatalogListing; stderr: string; code: number }> {
  const r = await s.cli(['images', '--json'], env ? { env } : {});
  return { listing: CatalogListing.parse(JSON.parse(r.stdout)), stderr: r.stderr, code: r.code ?? -1 };
}

describe('manifests through the CLI', () => {
  it('catalog add URL, pull a bundle, catalog ls and rm', async () => {
    const url = s.server.url('/dist/manifest.json');
    const add = await s.cli(['catalog', 'add', url]);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toMatch(/^Added catalog source \d+: /);

    const ls = await s.cli(['catalog', 'ls', '--json']);
    const sources = CatalogSource.array().parse(JSON.parse(ls.stdout));
    expect(sources).toContainEqual(
      expect.objectContaining({ id: 0, kind: 'github', location: `${s.server.origin}/repos/sevki/okLinux/releases` }),
    );
    const added = sources.filter((x) => x.location === url);
    expect(added.map((x) => x.kind)).toEqual(['manifest']);
    const human = await s.cli(['catalog', 'ls']);
    expect(human.stdout).toContain(url);

    const entry = (await listing()).listing.entries.find((e) => e.ref === 'tiny-1');
    expect(entry).toMatchObject({ kind: 'bundle', installable: true, installed: false, source: url });

    const pull = await s.cli(['pull', 'tiny-1', '--json']);
    expect(pull.code, pull.stderr).toBe(0);
    const image = Image.parse(jsonLines(pull.stdout).at(-1)!.image);
    expect(image).toMatchObject({ ref: 'tiny-1', kind: 'bundle', version: '1.0', cmdline: 'console=ttyS0 quiet' });
    expect(image.artifacts).toEqual([
      { role: 'initrd', sha256: sha256Hex(initrd), size: initrd.length },
      { role: 'kernel', sha256: sha256Hex(bzImage), size: bzImage.length },
    ]);
    const stored = (sha: string) => fs.readFileSync(path.join(s.home, 'store', 'sha256', sha));
    expect(stored(sha256Hex(bzImage)).equals(bzImage)).toBe(true);
    expect(stored(sha256Hex(initrd)).equals(initrd)).toBe(true);
    expect((await listing()).listing.entries.find((e) => e.ref === 'tiny-1')?.installed).toBe(true);

    const id = added[0]!.id;
    const rm = await s.cli(['catalog', 'rm', String(id)]);
    expect(rm.code, rm.stderr).toBe(0);
    expect(rm.stdout).toContain(`Removed catalog source ${id}`);
    const after = CatalogSource.array().parse(JSON.parse((await s.cli(['catalog', 'ls', '--json'])).stdout));
    expect(after.filter((x) => x.location === url)).toEqual([]);
    expect((await listing()).listing.entries.find((e) => e.ref === 'tiny-1')).toBeUndefined();

    const builtin = await s.cli(['catalog', 'rm', '0']);
    expect(builtin.code).toBe(2);
    expect(builtin.stderr).toContain('built in');
  });

  it('refuses a malformed manifest and names the bad field', async () => {
    s.server.route('/bad.json', {
      body: Buffer.from(
        JSON.stringify({
          schema: 1,
          bundles: [
            {
              name: 'broken',
              version: '1',
              arch: 'x86_64',
              artifacts: { kernel: { url: 'k', sha256: 'not-a-digest' } },
            },
          ],
        }),
      ),
    });
    const r = await s.cli(['catalog', 'add', s.server.url('/bad.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(s.server.url('/bad.json'));
    expect(r.stderr).toContain('bundles[0].artifacts.kernel.sha256: expected 64 hex characters');
    const ls = CatalogSource.array().parse(JSON.parse((await s.cli(['catalog', 'ls', '--json'])).stdout));
    expect(ls.filter((x) => x.kind === 'manifest')).toEqual([]);
  });

  it('still lists and pulls manifest bundles when the GitHub API is unreachable', async () => {
    const url = s.server.url('/dist/manifest.json');
    expect((await s.cli(['catalog', 'add', url])).code).toBe(0);
    const down = `http://127.0.0.1:${await closedPort()}`;
    const env = { OKLINUX_GITHUB_API: down };

    const r = await listing(env);
    expect(r.code).toBe(0);
    expect(r.listing.entries.filter((e) => e.source === url).map((e) => e.ref)).toEqual(['tiny-1']);
    expect(r.listing.entries.filter((e) => e.kind === 'oklinux-release')).toEqual([]);
    expect(r.listing.warnings.filter((w) => w.includes(down))).toEqual([
      expect.stringMatching(/^okLinux releases .*could not reach .*ECONNREFUSED/),
    ]);
    const human = await s.cli(['images'], { env });
    expect(human.code).toBe(0);
    expect(human.stderr).toMatch(new RegExp(`^warning: okLinux releases \\(${down}\\): could not reach`, 'm'));
    expect(human.stdout).toMatch(/^tiny-1\s+bundle\s+1\.0/m);

    const pull = await s.cli(['pull', 'tiny-1'], { env });
    expect(pull.code, pull.stderr).toBe(0);
    expect(s.server.requestsTo('/repos/sevki/okLinux/releases')).toHaveLength(0);
  });
});
