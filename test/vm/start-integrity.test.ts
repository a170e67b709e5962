/**
 * Files a VM boots are hashed again at every start, not only at install: a
 * kernel changed in the store (same size, one byte flipped), a bldy changed in
 * bin/ (or put there by someone else), a rootfs tarball swapped before it fills
 * a new root: each is refused through the real CLI with exit 6, a message that
 * names the file and what to do, and nothing run. `start --dry-run` makes the
 * same checks (it predicts what start does). Heavy lock: an unchanged bldy (the
 * stand-in) really starts.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VerifyResult, Vm } from '@contract';
import { Engine } from '@core/engine';
import { runCli } from '../helpers/cli';
import { FAKE_BLDY, publishBldy } from '../helpers/fake-bldy';
import { sha256Hex, testBytes } from '../helpers/http';
import { tmpDir } from '../helpers/tmp';
import { processesMentioning, serveTestBundle, vmEnv, TEST_BUNDLE, type BundleServer } from '../helpers/vm';
import { okKernelPath } from '../fixtures/oklinux-kernel';

const t = tmpDir('oklinux-integrity-');
const home = path.join(t.dir, 'home');
const calls = path.join(t.dir, 'bldy-calls.log');
const marker = path.join(t.dir, 'swapped-bldy-ran');
const env = { ...vmEnv(home), FAKE_BLDY_LOG: calls };
const cli = (...args: string[]) => runCli(args, { env });
const stored = (sha: string) => path.join(home, 'store', 'sha256', sha);
const bldyRuns = () => (fs.existsSync(calls) ? fs.readFileSync(calls, 'utf8') : '').match(/^run /gm)?.length ?? 0;
let bundle: BundleServer;

async function state(vm: string): Promise<Vm> {
  return Vm.array()
    .parse(JSON.parse((await cli('ls', '--json')).stdout))
    .find((v) => v.name === vm)!;
}

/** Flip one byte in place: same size, so only a hash notices. */
function flipByte(file: string, at: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, at);
    b[0] = b[0]! ^ 0xff;
    fs.writeSync(fd, b, 0, 1, at);
  } finally {
    fs.closeSync(fd);
  }
}

beforeAll(async () => {
  bundle = await serveTestBundle();
  expect((await cli('catalog', 'add', bundle.manifestUrl)).code).toBe(0);
  expect((await cli('catalog', 'add', publishBldy(bundle.server))).code).toBe(0);
  expect((await cli('pull', TEST_BUNDLE)).code).toBe(0);
});

afterAll(async () => {
  for (const p of processesMentioning(t.dir)) process.kill(p.pid, 'SIGKILL');
  await bundle?.close();
  t.cleanup();
});

describe('kernel', () => {
  it('a kernel changed in the store (same size) is refused at start and by --dry-run, exit 6', async () => {
    expect((await cli('create', 'k1', '--image', TEST_BUNDLE, '--backend', 'qemu', '--accel', 'tcg')).code).toBe(0);
    const kernel = stored(sha256Hex(fs.readFileSync(okKernelPath())));
    const size = fs.statSync(kernel).size;
    flipByte(kernel, 4096);
    expect(fs.statSync(kernel).size).toBe(size);
    try {
      const r = await cli('start', 'k1');
      expect(r.code, r.stderr).toBe(6);
      expect(r.stderr).toContain(`The kernel of "${TEST_BUNDLE}" (${kernel}) changed after it was installed`);
      expect(r.stderr).toMatch(/It was not used\. Run "oklinux verify" .*, then "oklinux pull testvm"\./);
      expect((await state('k1')).state).toBe('stopped');
      expect(processesMentioning(home)).toEqual([]);

      const dry = await cli('start', 'k1', '--dry-run');
      expect(dry.code).toBe(6);
      expect(dry.stderr).toContain('changed after it was installed');
    } finally {
      flipByte(kernel, 4096);
    }
    const dry = await cli('start', 'k1', '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
  });
});

describe('bldy', () => {
  it('an installed bldy that was changed in bin/ is refused at start; the one installed starts', async () => {
    const pulled = await cli('pull', 'bldy');
    expect(pulled.code, pulled.stderr).toBe(0);
    const bldy = path.join(home, 'bin', 'bldy');
    expect((await cli('create', 'b1', '--image', TEST_BUNDLE, '--backend', 'bldy')).code).toBe(0);

    // as installed: it runs (the supervisor checked it too)
    const ok = await cli('start', 'b1');
    expect(ok.code, ok.stderr).toBe(0);
    expect((await state('b1')).state).toBe('running');
    expect(bldyRuns()).toBe(1);
    // the launch plan's key is in the data dir only: never in the supervisor's or the VMM's argv or environment
    const key = fs.readFileSync(path.join(home, 'supervise.key'));
    const procs = processesMentioning(home).filter((p) => /__supervise|bin\/bldy run/.test(p.cmd));
    expect(procs).toHaveLength(2);
    for (const p of procs) {
      const seen = Buffer.concat([
        fs.readFileSync(`/proc/${p.pid}/cmdline`),
        fs.readFileSync(`/proc/${p.pid}/environ`),
      ]);
      for (const form of [key, Buffer.from(key.toString('hex')), Buffer.from(key.toString('base64'))]) {
        expect(seen.includes(form), p.cmd).toBe(false);
      }
    }
    expect((await cli('stop', 'b1')).code).toBe(0);

    // a guest with the data dir in a share writes its own bldy there
    fs.writeFileSync(bldy, FAKE_BLDY.replace('#!/bin/sh\n', `#!/bin/sh\ntouch '${marker}'\n`));
    const r = await cli('start', 'b1');
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toContain(`Bldy (${bldy}) changed after it was installed`);
    expect(r.stderr).toContain('Install it again with "oklinux pull bldy", or set a bldy path in settings.');
    const dry = await cli('start', 'b1', '--dry-run');
    expect(dry.code).toBe(6);
    expect(fs.existsSync(marker)).toBe(false);
    expect(bldyRuns()).toBe(1);
    expect((await state('b1')).state).toBe('stopped');

    // the advice works: verify finds and removes it, and a new pull brings the real one back
    const verify = await cli('verify', '--json');
    expect(verify.code).toBe(6);
    const results = VerifyResult.array().parse(JSON.parse(verify.stdout));
    expect(results.find((x) => x.path === bldy)).toMatchObject({ ok: false });
    expect(results.find((x) => x.path === bldy)?.problem).toMatch(/so it was removed; run "oklinux pull bldy"/);
    expect(fs.existsSync(bldy)).toBe(false);
    const gone = await cli('start', 'b1');
    expect(gone.code).toBe(7);
    expect(gone.stderr).toMatch(/it asks for bldy, but bldy is not installed/);
    expect((await cli('pull', 'bldy')).code).toBe(0);
    expect((await cli('start', 'b1', '--dry-run')).code).toBe(0);
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('a bldy that appeared in bin/ without being installed is refused', async () => {
    const other = path.join(t.dir, 'other');
    const otherEnv = { ...vmEnv(other), FAKE_BLDY_LOG: calls };
    expect((await runCli(['catalog', 'add', bundle.manifestUrl], { env: otherEnv })).code).toBe(0);
    expect((await runCli(['pull', TEST_BUNDLE], { env: otherEnv })).code).toBe(0);
    fs.mkdirSync(path.join(other, 'bin'), { recursive: true }); // the data dir's bin/ exists from its first open
    fs.writeFileSync(
      path.join(other, 'bin', 'bldy'),
      FAKE_BLDY.replace('#!/bin/sh\n', `#!/bin/sh\ntouch '${marker}'\n`),
      { mode: 0o755 },
    );
    expect((await runCli(['create', 'b2', '--image', TEST_BUNDLE, '--net', 'none'], { env: otherEnv })).code).toBe(0);
    const r = await runCli(['start', 'b2'], { env: otherEnv });
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toContain(`${path.join(other, 'bin', 'bldy')} has no SHA-256 on record`);
    // naming it in settings does not exempt the app's own bin/bldy: it is refused before it runs, even --version
    const engine = new Engine({ home: other, env: otherEnv });
    try {
      await expect(engine.invoke('settings:set', { bldyPath: path.join(other, 'bin', 'bldy') })).rejects.toThrow(
        /lies in okLinux's data directory .* and is not a bldy okLinux installed, so it was not run/,
      );
      // nor does a hard link to it outside the data directory
      const link = path.join(t.dir, 'hardlink-to-bin-bldy');
      fs.linkSync(path.join(other, 'bin', 'bldy'), link);
      await expect(engine.invoke('settings:set', { bldyPath: link })).rejects.toThrow(
        /and is not a bldy okLinux installed, so it was not run/,
      );
    } finally {
      await engine.close();
    }
    const named = await runCli(['start', 'b2'], { env: otherEnv });
    expect(named.code, named.stderr).toBe(6);
    expect(fs.existsSync(marker)).toBe(false);
  });
});

describe('rootfs', () => {
  it('a rootfs tarball swapped in the store (same size, still a valid tarball) is refused before it fills a root', async () => {
    // two uncompressed-gzip tarballs of the same length, differing in one byte of /bin/sh
    const make = async (name: string, shell: string): Promise<Buffer> => {
      const dir = path.join(t.dir, name);
      fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'bin', 'sh'), shell, { mode: 0o755 });
      const out = `${dir}.tar.gz`;
      await tar.c({ gzip: { level: 0 }, file: out, cwd: dir, portable: true }, ['bin']);
      return fs.readFileSync(out);
    };
    const good = await make('rootfs-a', '#!/bin/sh\necho A\n');
    const evil = await make('rootfs-b', '#!/bin/sh\necho B\n');
    expect(evil.length).toBe(good.length);
    const kernel = testBytes(4096, 61);
    bundle.server.route('/r/kernel', { body: kernel });
    bundle.server.route('/r/rootfs.tar.gz', { body: good });
    bundle.server.route('/r/manifest.json', {
      body: Buffer.from(
        JSON.stringify({
          schema: 1,
          bundles: [
            {
              name: 'withroot',
              version: '1',
              arch: 'x86_64',
              cmdline: 'console=ttyS0',
              artifacts: {
                kernel: { url: 'kernel', sha256: sha256Hex(kernel), size: kernel.length },
                rootfs: { url: 'rootfs.tar.gz', sha256: sha256Hex(good), size: good.length, format: 'tar.gz' },
              },
            },
          ],
        }),
      ),
    });
    expect((await cli('catalog', 'add', bundle.server.url('/r/manifest.json'))).code).toBe(0);
    const pulled = await cli('pull', 'withroot');
    expect(pulled.code, pulled.stderr).toBe(0);
    fs.writeFileSync(stored(sha256Hex(good)), evil);
    expect((await cli('create', 'r1', '--image', 'withroot', '--backend', 'qemu', '--accel', 'tcg')).code).toBe(0);
    const r = await cli('start', 'r1');
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toContain(`The rootfs of "withroot" (${stored(sha256Hex(good))}) changed after it was installed`);
    expect(fs.existsSync(path.join(home, 'vms', 'r1', 'root'))).toBe(false);
  });
});
