import fs from 'node:fs';
import path from 'node:path';
import * as tar from 'tar';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Image } from '@contract';
import { sha256Hex, testBytes } from '../helpers/http';
import { kernelTarball, sandbox, type Sandbox } from './fixtures';

let s: Sandbox;
beforeEach(async () => {
  s = await sandbox();
});
afterEach(() => s.close());

const stored = (sha: string) => fs.readFileSync(path.join(s.home, 'store', 'sha256', sha));

describe('oklinux import', () => {
  it('adds a manifest file as a catalog source', async () => {
    const bzImage = testBytes(10_000, 52);
    fs.writeFileSync(path.join(s.work, 'k'), bzImage);
    const manifest = path.join(s.work, 'local.json');
    fs.writeFileSync(
      manifest,
      JSON.stringify({
        schema: 1,
        bundles: [
          {
            name: 'local-1',
            version: '1',
            arch: 'x86_64',
            artifacts: { kernel: { url: 'k', sha256: sha256Hex(bzImage) } },
          },
        ],
      }),
    );
    const r = await s.cli(['import', manifest]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Added the manifest .*local\.json as catalog source \d+/);
    expect((await s.cli(['pull', 'local-1'])).code).toBe(0);
    expect(stored(sha256Hex(bzImage)).equals(bzImage)).toBe(true);
  });

  it('imports a local bzImage file', async () => {
    const bzImage = testBytes(90_000, 51);
    const file = path.join(s.work, 'my-kernel');
    fs.writeFileSync(file, bzImage);

    const r = await s.cli(['import', file, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const image = Image.parse(JSON.parse(r.stdout));
    expect(image).toMatchObject({ ref: 'my-kernel', kind: 'local', cmdline: 'console=ttyS0', size: bzImage.length });
    expect(image.artifacts).toEqual([{ role: 'kernel', sha256: sha256Hex(bzImage), size: bzImage.length }]);
    expect(stored(sha256Hex(bzImage)).equals(bzImage)).toBe(true);
    // It is a copy: the source can go.
    fs.rmSync(file);
    expect((await s.cli(['verify'])).code).toBe(0);

    const ls = await s.cli(['images']);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/^my-kernel\s+local\s+local\s+.*yes$/m);
    const json = JSON.parse((await s.cli(['images', '--json'])).stdout) as { installed: unknown[] };
    expect(
      Image.array()
        .parse(json.installed)
        .map((i) => i.ref),
    ).toEqual(['my-kernel']);
  });

  it('imports the kernel out of a tarball, under --name', async () => {
    const bzImage = testBytes(110_000, 52);
    const file = path.join(s.work, 'oklinux-kernel.tar.gz');
    fs.writeFileSync(file, await kernelTarball(bzImage, s.work));

    const r = await s.cli(['import', file, '--name', 'from-tarball']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Imported from-tarball');
    expect(s.stored()).toEqual([sha256Hex(bzImage)]);
    expect(stored(sha256Hex(bzImage)).equals(bzImage)).toBe(true);

    const rm = await s.cli(['rm', 'from-tarball']);
    expect(rm.code, rm.stderr).toBe(0);
    expect(s.stored()).toEqual([]);
  });

  it('refuses a tarball without the kernel, and a missing file', async () => {
    const file = path.join(s.work, 'no-kernel.tar.gz');
    const other = path.join(s.work, 'other');
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, 'README'), 'no kernel here\n');
    await tar.c({ gzip: true, file, cwd: other }, ['README']);

    const r = await s.cli(['import', file]);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('arch/x86/boot/bzImage');
    expect(s.stored()).toEqual([]);

    const missing = await s.cli(['import', path.join(s.work, 'nope')]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain(path.join(s.work, 'nope'));
  });
});
