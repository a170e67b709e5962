import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from 'tar';
import {
  artifactFileName,
  buildCatalog,
  fetchSha256File,
  listReleases,
  parseManifest,
  resolveRef,
  type CatalogEntry,
  type OkLinuxRelease,
} from '@core/catalog';
import { extractMember } from '@core/extract';
import { isOkError } from '@contract/errors';
import { serve, sendJson, type LocalServer } from './local-server';
import { ghRelease, hex40, kernelAssetName } from './fixtures';

const HEX = 'ab'.repeat(32);

function release(tag: string, publishedAt: string, verifiable = true): OkLinuxRelease {
  const name = `oklinux-kernel-x86_64-${tag.slice(7)}-${hex40('1')}.tar.gz`;
  return {
    tag,
    kernelRelease: tag.slice(7),
    commitSha: hex40('1'),
    buildDate: null,
    publishedAt,
    prerelease: false,
    htmlUrl: null,
    kernel: { name, url: `https://gh.example/${name}`, size: 1000 },
    sha256: verifiable ? { name: `${name}.sha256`, url: `https://gh.example/${name}.sha256` } : null,
  };
}

const manifest = parseManifest(
  JSON.stringify({
    schema: 1,
    bundles: [
      {
        name: 'alpine-3.21',
        version: '3.21.3',
        arch: 'x86_64',
        cmdline: 'console=ttyS0 quiet',
        artifacts: {
          kernel: { url: 'k.tar.gz', sha256: HEX, size: 10, extract: 'arch/x86/boot/bzImage' },
          rootfs: { url: 'r.tar.gz', sha256Url: 'r.tar.gz.sha256', size: 20, format: 'tar.gz' },
        },
      },
      { name: 'arm-thing', version: '1', arch: 'aarch64', artifacts: { kernel: { url: 'Image', sha256: HEX } } },
      { name: 'kernel-6.6.2', version: 'dup', arch: 'x86_64', artifacts: { kernel: { url: 'x', sha256: HEX } } },
    ],
  }),
  'https://okl.example/m.json',
  'https://okl.example/m.json',
);

describe('buildCatalog', () => {
  const { entries, warnings } = buildCatalog({
    releases: [release('kernel-6.6.3', '2025-03-03T00:00:00Z', false), release('kernel-6.6.2', '2025-03-02T00:00:00Z')],
    manifests: [manifest],
    hostArch: 'x86_64',
  });

  it('puts okLinux releases first, then bundles, with uniform artifacts', () => {
    expect(entries.map((e) => [e.ref, e.kind, e.installable])).toEqual([
      ['kernel-6.6.3', 'oklinux-release', false],
      ['kernel-6.6.2', 'oklinux-release', true],
      ['alpine-3.21', 'bundle', true],
      ['arm-thing', 'bundle', false],
    ]);
    const rel = entries[1]!;
    expect(rel).toMatchObject({
      version: '6.6.2',
      arch: 'x86_64',
      publishedAt: '2025-03-02T00:00:00Z',
      cmdline: 'console=ttyS0',
      source: 'github:sevki/okLinux',
      size: 1000,
      problem: null,
    });
    expect(rel.artifacts).toEqual([
      {
        role: 'kernel',
        url: release('kernel-6.6.2', '').kernel.url,
        sha256: null,
        sha256Url: `${release('kernel-6.6.2', '').kernel.url}.sha256`,
        size: 1000,
        extract: 'arch/x86/boot/bzImage',
        format: null,
      },
    ]);
    expect(entries[0]!.problem).toMatch(
      /has no oklinux-kernel-x86_64-6\.6\.3-1+\.tar\.gz\.sha256, so it cannot be verified/,
    );
    const alpine = entries[2]!;
    expect(alpine).toMatchObject({
      version: '3.21.3',
      cmdline: 'console=ttyS0 quiet',
      size: 30,
      source: 'https://okl.example/m.json',
    });
    expect(alpine.artifacts.map((a) => [a.role, a.url, a.sha256, a.sha256Url, a.format])).toEqual([
      ['kernel', 'https://okl.example/k.tar.gz', HEX, null, null],
      ['rootfs', 'https://okl.example/r.tar.gz', null, 'https://okl.example/r.tar.gz.sha256', 'tar.gz'],
    ]);
    expect(entries[3]!.problem).toBe('built for aarch64; this machine is x86_64');
    expect(entries[3]!.size).toBeNull();
  });

  it('drops a bundle whose name a release already has, with a warning', () => {
    expect(warnings).toEqual([
      'bundle "kernel-6.6.2" from https://okl.example/m.json ignored: github:sevki/okLinux has that name',
    ]);
  });

  it('resolves exact refs and "latest" (the newest installable release)', () => {
    expect(resolveRef(entries, 'alpine-3.21').ref).toBe('alpine-3.21');
    expect(resolveRef(entries, 'kernel-6.6.3').installable).toBe(false);
    expect(resolveRef(entries, 'latest').ref).toBe('kernel-6.6.2');
  });

  it('says NOT_FOUND with close candidates', () => {
    const miss = (ref: string, list: CatalogEntry[] = entries) => {
      try {
        resolveRef(list, ref);
      } catch (e) {
        expect(isOkError(e) && e.code).toBe('NOT_FOUND');
        return (e as Error).message;
      }
      throw new Error('expected NOT_FOUND');
    };
    expect(miss('alpine-3.20')).toBe(
      'no release or bundle named "alpine-3.20" in the catalog. Did you mean: alpine-3.21?',
    );
    expect(miss('6.6')).toContain('Did you mean: kernel-6.6.3, kernel-6.6.2?');
    expect(miss('debian')).toContain('Known: latest, kernel-6.6.3, kernel-6.6.2, alpine-3.21, arm-thing.');
    expect(miss('x', [])).toContain('The catalog is empty');
    expect(miss('latest', [])).toMatch(/no okLinux release in the catalog/);
    expect(miss('latest', entries.slice(0, 1))).toMatch(
      /none of the 1 okLinux releases in the catalog is installable: release kernel-6\.6\.3 has no/,
    );
  });
});

describe('from a GitHub listing to a kernel on disk', () => {
  let dir: string;
  let srv: LocalServer;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'oklinux-flow-'));
  });
  afterEach(async () => {
    await srv.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists, resolves latest, fetches the .sha256 lazily, verifies and extracts bzImage', async () => {
    const spec = { kernelRelease: '6.6.76-08024-g4f1e2d3c5b6a', commit: hex40('4f1e2d3c5b6a'), date: '20250301' };
    const asset = kernelAssetName(spec);
    await mkdir(join(dir, 'kernel/arch/x86/boot'), { recursive: true });
    await writeFile(join(dir, 'kernel/arch/x86/boot/bzImage'), Buffer.from('MZ fake bzImage payload'));
    await create({ gzip: true, file: join(dir, asset), cwd: join(dir, 'kernel') }, ['arch/x86/boot/bzImage']);
    const tarball = await readFile(join(dir, asset));
    const sum = `${createHash('sha256').update(tarball).digest('hex')}  ${asset}\n`;

    srv = await serve((req, res, origin) => {
      if (req.url!.startsWith('/repos/')) {
        const r = ghRelease(origin, { ...spec, publishedAt: '2025-03-01T00:41:13Z', size: tarball.length });
        sendJson(res, 200, [r]);
      } else if (req.url!.endsWith('.sha256')) {
        res.end(sum);
      } else if (req.url!.endsWith('.tar.gz')) {
        res.end(tarball);
      } else {
        res.writeHead(404);
        res.end();
      }
    });

    const { releases } = await listReleases({ api: srv.origin, token: '' });
    const entry = resolveRef(buildCatalog({ releases, hostArch: 'x86_64' }).entries, 'latest');
    const kernel = entry.artifacts[0]!;
    expect(artifactFileName(kernel.url)).toBe(asset);

    const expected = await fetchSha256File(kernel.sha256Url!, artifactFileName(kernel.url));
    const body = Buffer.from(await (await fetch(kernel.url)).arrayBuffer());
    expect(createHash('sha256').update(body).digest('hex')).toBe(expected);
    await writeFile(join(dir, 'download.tar.gz'), body);

    await extractMember(join(dir, 'download.tar.gz'), kernel.extract!, join(dir, 'vmlinuz'));
    expect(await readFile(join(dir, 'vmlinuz'), 'utf8')).toBe('MZ fake bzImage payload');
  });
});

describe('a bundle whose kernel is an okLinux release', () => {
  const withRelease = (kernel: unknown) =>
    parseManifest(
      JSON.stringify({
        schema: 1,
        bundles: [
          {
            name: 'oklinux',
            version: '1',
            arch: 'x86_64',
            artifacts: { kernel, rootfs: { url: 'root.tar.gz', sha256: HEX, format: 'tar.gz' } },
          },
        ],
      }),
      'default',
      'https://m.example/default.json',
    );

  it('takes the newest verifiable release for "latest", with its .sha256 and bzImage member', () => {
    const releases = [
      release('kernel-6.6.2-b', '2025-03-02T00:00:00Z', false),
      release('kernel-6.6.1-a', '2025-03-01T00:00:00Z'),
    ];
    const { entries } = buildCatalog({ releases, manifests: [withRelease({ release: 'latest' })], hostArch: 'x86_64' });
    const b = entries.find((e) => e.ref === 'oklinux')!;
    expect(b.installable).toBe(true);
    expect(b.artifacts.map((a) => a.role)).toEqual(['kernel', 'rootfs']);
    expect(b.artifacts[0]).toMatchObject({
      url: releases[1]!.kernel.url,
      sha256Url: releases[1]!.sha256!.url,
      extract: 'arch/x86/boot/bzImage',
    });
  });

  it("virtio-mmio (QEMU's microvm): okLinux releases and bundles on one say so; other bundles only when their manifest does", () => {
    const releases = [release('kernel-6.6.1-a', '2025-03-01T00:00:00Z')];
    const { entries } = buildCatalog({ releases, manifests: [withRelease({ release: 'latest' })], hostArch: 'x86_64' });
    expect(entries.map((e) => [e.ref, e.virtioMmio])).toEqual([
      ['kernel-6.6.1-a', true],
      ['oklinux', true],
    ]);
    const byUrl = (virtioMmio?: boolean) =>
      parseManifest(
        JSON.stringify({
          schema: 1,
          bundles: [
            {
              name: 'own',
              version: '1',
              arch: 'x86_64',
              ...(virtioMmio === undefined ? {} : { virtioMmio }),
              artifacts: { kernel: { url: 'k', sha256: HEX } },
            },
          ],
        }),
        'own',
        'https://m.example/own.json',
      );
    const mmio = (m: ReturnType<typeof byUrl>) =>
      buildCatalog({ releases: [], manifests: [m], hostArch: 'x86_64' }).entries[0]!.virtioMmio;
    expect([mmio(byUrl()), mmio(byUrl(true)), mmio(byUrl(false))]).toEqual([false, true, false]);
  });

  it('is listed but not installable when no release can be listed (offline)', () => {
    const { entries } = buildCatalog({
      releases: [],
      manifests: [withRelease({ release: 'latest' })],
      hostArch: 'x86_64',
    });
    expect(entries[0]).toMatchObject({ ref: 'oklinux', installable: false });
    expect(entries[0]!.problem).toMatch(/okLinux release "latest", which is not in the catalog/);
  });

  it('refuses a kernel that names both a release and a URL, or neither', () => {
    expect(() => withRelease({ release: 'latest', url: 'k', sha256: HEX })).toThrow(
      /artifacts\.kernel\.release: give either release or url/,
    );
    expect(() => withRelease({})).toThrow(/artifacts\.kernel\.url: required: a URL, or release/);
    expect(() => withRelease({ release: '../x' })).toThrow(
      /artifacts\.kernel\.release: expected "latest" or an okLinux release tag/,
    );
  });
});
