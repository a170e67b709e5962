/**
 * The okLinux-shaped test kernel's build (fixtures/oklinux-kernel.ts, run by vitest's globalSetup):
 * a machine that cannot build it fails the run with the package to install, never skips it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { which } from '@core/host-tools';
import { buildOkKernel, KERNEL_ENV, testCacheDir } from '../fixtures/oklinux-kernel';
import { tmpDir } from '../helpers/tmp';

let t: ReturnType<typeof tmpDir>;
const saved = { ...process.env };
beforeEach(() => {
  t = tmpDir('oklinux-kernel-fixture-');
  // an empty cache, so nothing is reused
  process.env.XDG_CACHE_HOME = path.join(t.dir, 'cache');
  delete process.env[KERNEL_ENV];
});
afterEach(() => {
  process.env = { ...saved };
  t.cleanup();
});

/** A PATH holding only these host tools. */
function pathWith(tools: string[]): string {
  const bin = path.join(t.dir, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  for (const tool of tools) fs.symlinkSync(which(tool)!, path.join(bin, tool));
  return bin;
}

describe('building the okLinux-shaped test kernel', () => {
  it('is cached outside the clone, under XDG_CACHE_HOME (default ~/.cache)', () => {
    expect(testCacheDir({ XDG_CACHE_HOME: '/x/cache' })).toBe('/x/cache/oklinux-tests');
    expect(testCacheDir({ HOME: process.env.HOME })).toBe(path.join(process.env.HOME!, '.cache', 'oklinux-tests'));
  });

  it('fails naming the package when a build tool is missing', async () => {
    process.env.PATH = pathWith(['bash', 'make', 'gcc', 'bc']); // no bison
    const lines: string[] = [];
    await expect(buildOkKernel((l) => lines.push(l))).rejects.toThrow(
      /could not be built[^]*bison is missing: install it with `apt-get install bison`/,
    );
    expect(lines.join('\n')).toContain('apt-get install bison');
  });

  it('fails naming linux-source-6.1 when the kernel source is missing', async () => {
    process.env.OKLINUX_KERNEL_SOURCE = path.join(t.dir, 'no-such-source.tar.xz');
    await expect(buildOkKernel(() => undefined)).rejects.toThrow(/apt-get install linux-source-6\.1/);
  });

  it(`uses ${KERNEL_ENV} when set, and refuses one that is not a file`, async () => {
    const mine = path.join(t.dir, 'bzImage');
    fs.writeFileSync(mine, 'a kernel');
    process.env[KERNEL_ENV] = mine;
    expect(await buildOkKernel(() => undefined)).toBe(mine);
    process.env[KERNEL_ENV] = path.join(t.dir, 'missing');
    await expect(buildOkKernel(() => undefined)).rejects.toThrow(/is not a file: point it at a bzImage/);
  });
});
