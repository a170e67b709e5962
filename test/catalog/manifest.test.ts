import type { ManifestArtifact } from '@core/catalog';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadManifest, parseManifest } from '@core/catalog';
import { isOkError, type OkError } from '@contract/errors';
import { serve, type LocalServer } from './local-server';

const HEX = 'c0ffee'.repeat(10) + 'beef';
let dir: string;
let srv: LocalServer | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oklinux-manifest-'));
});
afterEach(async () => {
  await srv?.close();
  srv = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function rejection(p: Promise<unknown> | (() => unknown)): Promise<OkError> {
  const e = await Promise.resolve()
    .then(() => (typeof p === 'function' ? p() : p))
    .then(
      () => undefined,
      (err: unknown) => err,
    );
  if (!isOkError(e)) throw new Error(`expected an OkError, got ${String(e)}`);
  return e;
}

function bundle(over: Record<string, unknown> = {}) {
  return {
    name: 'alpine-3.21',
    version: '3.21.3',
    arch: 'x86_64',
    artifacts: {
      kernel: { url: 'kernels/k.tar.gz', sha256: HEX, size: 12, extract: 'arch/x86/boot/bzImage' },
      rootfs: {
        url: 'https://cdn.example/alpine.tar.gz',
        sha256Url: 'https://cdn.example/alpine.tar.gz.sha256',
        format: 'tar.gz',
      },
    },
    ...over,
  };
}

const parse = (json: unknown, base = 'https://okl.example/m/manifest.json') =>
  parseManifest(JSON.stringify(json), 'test manifest', base);

function problem(json: unknown): string {
  try {
    parse(json);
  } catch (e) {
    expect(isOkError(e) && e.code).toBe('INVALID_INPUT');
    return (e as Error).message;
  }
  throw new Error('expected the manifest to be refused');
}

describe('manifests', () => {
  it('loads the shipped example from its path, resolving relative URLs against its directory', async () => {
    const path = resolve('resources/manifests/example.json');
    const m = await loadManifest(path);
    expect(m.source).toBe(path);
    expect(m.schema).toBe(1);
    const b = m.bundles[0]!;
    expect(b.name).toBe('alpine-3.21');
    expect(b.cmdline).toBe('console=ttyS0 quiet');
    const dirUrl = pathToFileURL(resolve('resources/manifests')).toString();
    expect((b.artifacts.kernel as ManifestArtifact).url).toBe(`${dirUrl}/kernels/oklinux-kernel-x86_64.tar.gz`);
    expect((b.artifacts.kernel as ManifestArtifact).sha256Url).toBe(
      `${dirUrl}/kernels/oklinux-kernel-x86_64.tar.gz.sha256`,
    );
    expect((b.artifacts.kernel as ManifestArtifact).extract).toBe('arch/x86/boot/bzImage');
    expect(b.artifacts.rootfs?.format).toBe('tar.gz');
    expect(m.vmm).toEqual([]);
  });

  it('loads over HTTP and resolves relative URLs against the manifest URL', async () => {
    const doc = {
      schema: 1,
      bundles: [
        bundle({
          cmdline: undefined,
          artifacts: {
            kernel: { url: 'kernels/k.tar.gz', sha256Url: '../sums/k.sha256', extract: './arch/x86/boot/bzImage' },
            initrd: { url: '/abs/initrd.img', sha256: HEX.toUpperCase() },
            rootfs: { url: 'root.img', sha256: HEX, format: 'raw', size: 1024 },
          },
        }),
      ],
      vmm: [
        {
          name: 'bldy',
          version: '0.1.0',
          os: 'linux',
          arch: 'x86_64',
          url: 'bin/bldy.tar.gz',
          sha256: HEX,
          extract: 'bldy',
        },
      ],
    };
    srv = await serve((req, res) => {
      if (req.url === '/okl/v1/manifest.json') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(doc));
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    const url = `${srv.origin}/okl/v1/manifest.json`;
    const m = await loadManifest(url);
    const b = m.bundles[0]!;
    expect(m.source).toBe(url);
    expect(b.cmdline).toBe('console=ttyS0');
    expect((b.artifacts.kernel as ManifestArtifact).url).toBe(`${srv.origin}/okl/v1/kernels/k.tar.gz`);
    expect((b.artifacts.kernel as ManifestArtifact).sha256Url).toBe(`${srv.origin}/okl/sums/k.sha256`);
    expect(b.artifacts.initrd).toEqual({ url: `${srv.origin}/abs/initrd.img`, sha256: HEX });
    expect(b.artifacts.rootfs).toEqual({
      url: `${srv.origin}/okl/v1/root.img`,
      sha256: HEX,
      format: 'raw',
      size: 1024,
    });
    expect(m.vmm[0]!.url).toBe(`${srv.origin}/okl/v1/bin/bldy.tar.gz`);
    expect(srv.requests[0]!.headers['user-agent']).toMatch(/oklinux-desktop/);

    const missing = await rejection(loadManifest(`${srv.origin}/nope.json`));
    expect(missing.code).toBe('HTTP');
    expect(missing.message).toContain('answered 404');
  });

  it('resolves a relative URL in a local manifest next to the file, given as a relative path', async () => {
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'sub', 'm.json'), JSON.stringify({ schema: 1, bundles: [bundle()] }));
    const m = await loadManifest(join(dir, 'sub', 'm.json'));
    expect((m.bundles[0]!.artifacts.kernel as ManifestArtifact).url).toBe(
      pathToFileURL(join(dir, 'sub', 'kernels', 'k.tar.gz')).toString(),
    );
    const viaUrl = await loadManifest(pathToFileURL(join(dir, 'sub', 'm.json')).toString());
    expect((viaUrl.bundles[0]!.artifacts.kernel as ManifestArtifact).url).toBe(
      (m.bundles[0]!.artifacts.kernel as ManifestArtifact).url,
    );
  });

  it('names the bad field', () => {
    const badHex = bundle();
    (badHex.artifacts as { kernel: { sha256: string } }).kernel.sha256 = 'abc123';
    expect(problem({ schema: 1, bundles: [badHex] })).toContain(
      'manifest test manifest is invalid: bundles[0].artifacts.kernel.sha256: expected 64 hex characters',
    );
    expect(problem({ schema: 1, bundles: [bundle({ arch: 'arm' })] })).toContain(
      'bundles[0].arch: expected "x86_64" or "aarch64"',
    );
    expect(problem({ schema: 1, bundles: [bundle({ version: undefined })] })).toContain('bundles[0].version: required');
    expect(problem({ schema: 1, bundles: [bundle({ artifacts: {} })] })).toContain(
      'bundles[0].artifacts.kernel: required',
    );
    expect(problem({ schema: 1, bundles: [bundle({ name: 'has space' })] })).toContain(
      'bundles[0].name: expected 1-64',
    );
    expect(problem({ schema: 1, bundles: [bundle({ name: 'latest' })] })).toContain(
      'bundles[0].name: "latest" is reserved',
    );
    expect(problem({ schema: 1, bundles: [bundle({ sha265: HEX })] })).toContain('bundles[0]: unknown field "sha265"');
    expect(problem({ schema: 1, bundles: [bundle(), bundle()] })).toContain(
      'bundles[1].name: duplicate name "alpine-3.21" (also bundles[0])',
    );
    expect(problem({ schema: 1, bundles: {} })).toContain('bundles: expected array, got object');
  });

  it('wants exactly one of sha256 and sha256Url', () => {
    const both = bundle();
    Object.assign((both.artifacts as Record<string, object>).kernel!, { sha256Url: 'k.sha256' });
    expect(problem({ schema: 1, bundles: [both] })).toContain(
      'bundles[0].artifacts.kernel.sha256Url: give sha256 or sha256Url, not both',
    );
    const neither = bundle({ artifacts: { kernel: { url: 'k' } } });
    expect(problem({ schema: 1, bundles: [neither] })).toContain(
      'bundles[0].artifacts.kernel.sha256: required: give sha256 (64 hex characters) or sha256Url',
    );
  });

  it('checks member paths, formats, sizes and URL schemes', () => {
    const k = (kernel: object) => ({ schema: 1, bundles: [bundle({ artifacts: { kernel } })] });
    expect(problem(k({ url: 'k', sha256: HEX, extract: '../bzImage' }))).toContain(
      'bundles[0].artifacts.kernel.extract: expected a relative path inside the archive',
    );
    expect(problem(k({ url: 'k', sha256: HEX, size: -1 }))).toContain(
      'bundles[0].artifacts.kernel.size: expected a whole number of bytes',
    );
    expect(problem(k({ url: 'file:///etc/passwd', sha256: HEX }))).toContain(
      'bundles[0].artifacts.kernel.url: expected an http(s) URL, got file: (file URLs only work in local manifests)',
    );
    expect(problem(k({ url: 'http://[bad', sha256: HEX }))).toContain(
      'bundles[0].artifacts.kernel.url: not a valid URL',
    );
    const noFormat = bundle({ artifacts: { kernel: { url: 'k', sha256: HEX }, rootfs: { url: 'r', sha256: HEX } } });
    expect(problem({ schema: 1, bundles: [noFormat] })).toContain('bundles[0].artifacts.rootfs.format: required');
    // a local manifest may use file:// URLs
    const local = parse(k({ url: 'file:///srv/k.tar.gz', sha256: HEX }), 'file:///home/u/m.json');
    expect((local.bundles[0]!.artifacts.kernel as ManifestArtifact).url).toBe('file:///srv/k.tar.gz');
  });

  it('takes a bundle with only a kernel, and ext4 rootfs images, plain or compressed', () => {
    const kernelOnly = parse({ schema: 1, bundles: [bundle({ artifacts: { kernel: { release: 'latest' } } })] });
    expect(kernelOnly.bundles[0]!.artifacts).toEqual({ kernel: { release: 'latest' } });
    for (const format of ['ext4', 'ext4.gz', 'ext4.zst', 'ext4.xz', 'raw']) {
      const m = parse({
        schema: 1,
        bundles: [
          bundle({ artifacts: { kernel: { url: 'k', sha256: HEX }, rootfs: { url: 'r.img', sha256: HEX, format } } }),
        ],
      });
      expect(m.bundles[0]!.artifacts.rootfs?.format).toBe(format);
    }
    const bad = bundle({
      artifacts: { kernel: { url: 'k', sha256: HEX }, rootfs: { url: 'r', sha256: HEX, format: 'qcow2' } },
    });
    expect(problem({ schema: 1, bundles: [bad] })).toContain(
      'bundles[0].artifacts.rootfs.format: expected "tar.gz" or',
    );
  });

  it('refuses other schema versions, non-objects and bad JSON clearly', async () => {
    expect(problem({ schema: 2, bundles: [] })).toBe(
      'manifest test manifest uses schema 2; this version of okLinux Desktop reads schema 1 only. ' +
        'Update the app, or ask the publisher for a schema 1 manifest.',
    );
    expect(problem({ bundles: [] })).toContain('schema: required');
    expect(problem({ schema: '1' })).toContain('schema: expected 1');
    expect(problem([])).toContain('must be a JSON object');
    const e = await rejection(() => parseManifest('{"schema": 1,', 'm.json', 'file:///m.json'));
    expect(e.message).toMatch(/^manifest m\.json is not valid JSON/);
    const nf = await rejection(loadManifest(join(dir, 'absent.json')));
    expect(nf.code).toBe('NOT_FOUND');
    expect(nf.message).toContain(join(dir, 'absent.json'));
  });
});

describe('digests over https', () => {
  it('refuses an http sha256Url in a manifest served over https; takes it from an http manifest', () => {
    const downgraded = bundle({
      artifacts: {
        kernel: { url: 'kernels/k', sha256Url: 'http://cdn.example/k.sha256' },
      },
    });
    expect(problem({ schema: 1, bundles: [downgraded] })).toContain(
      'a manifest served over https must give its sha256Url over https too',
    );
    expect(() => parse({ schema: 1, bundles: [downgraded] }, 'http://okl.example/m/manifest.json')).not.toThrow();
  });
});
