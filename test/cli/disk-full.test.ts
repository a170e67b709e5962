/**
 * A full disk, for real: a small tmpfs mounted as the data directory's disk and filled up. The
 * real CLI exits 8 with "The disk holding DIR is full" and what to do, both when a local import
 * runs out of space (ENOSPC) and when even opening the database cannot grow its -shm file
 * (SQLITE_IOERR_SHMSIZE, which SQLite calls "disk I/O error"). Mounting needs root, as in CI;
 * elsewhere this test fails saying so. (Injected ENOSPC during downloads is tested in
 * test/download/downloader.test.ts.)
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli';
import { tmpDir } from '../helpers/tmp';

const t = tmpDir('oklinux-diskfull-');
const mnt = path.join(t.dir, 'disk');
const home = path.join(mnt, 'home');
const kernel = path.join(t.dir, 'bzImage');
const tarball = path.join(t.dir, 'kernel.tar.gz');
const env = { OKLINUX_HOME: home, OKLINUX_GITHUB_API: 'http://127.0.0.1:9' };
const cli = (...args: string[]) => runCli(args, { env, timeoutMs: 60_000 });
let mounted = false;

const free = (): number => {
  const s = fs.statfsSync(mnt);
  return s.bavail * s.bsize;
};

function expectDiskFull(r: { code: number | null; stderr: string }) {
  expect(r.code, r.stderr).toBe(8);
  expect(r.stderr).toContain(`The disk holding ${home} is full`);
  expect(r.stderr).toContain('Free some space on it, or move the okLinux data directory');
  expect(r.stderr).toContain('OKLINUX_HOME');
}

beforeAll(() => {
  if (process.getuid?.() !== 0) {
    throw new Error('test/cli/disk-full.test.ts mounts a tmpfs and must run as root (CI does); run it with sudo.');
  }
  fs.mkdirSync(mnt);
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'oklinux-diskfull', mnt], {
    encoding: 'utf8',
  });
  if (m.status !== 0) throw new Error(`mount -t tmpfs failed: ${m.stderr || m.error}`);
  mounted = true;
  fs.writeFileSync(kernel, randomBytes(4 * 1024 * 1024));
  // the same kernel in okLinux's release layout, for the tarball import path (extraction)
  const tree = path.join(t.dir, 'tree', 'arch', 'x86', 'boot');
  fs.mkdirSync(tree, { recursive: true });
  fs.copyFileSync(kernel, path.join(tree, 'bzImage'));
  const tar = spawnSync('tar', ['czf', tarball, '-C', path.join(t.dir, 'tree'), 'arch/x86/boot/bzImage']);
  if (tar.status !== 0) throw new Error(`tar failed: ${String(tar.stderr)}`);
});

afterAll(() => {
  if (mounted) spawnSync('umount', [mnt]);
  t.cleanup();
});

describe('a full disk under the data directory', () => {
  it('import: exits 8 naming the disk, and leaves nothing half-written', async () => {
    expect((await cli('ls')).code).toBe(0);
    // 1 MiB left: the database opens, the 4 MiB kernel does not fit
    const fill = spawnSync('fallocate', ['-l', String(free() - 1024 * 1024), path.join(mnt, 'fill')]);
    expect(fill.status, String(fill.stderr)).toBe(0);
    const r = await cli('import', kernel, '--name', 'k');
    expectDiskFull(r);
    expect(r.stderr).toContain('(ENOSPC)');
    const fromTar = await cli('import', tarball, '--name', 'k');
    expectDiskFull(fromTar);
    expect(fs.readdirSync(path.join(home, 'store', 'sha256'))).toEqual([]);
    expect(fs.readdirSync(path.join(home, 'store')).filter((f) => f.startsWith('.'))).toEqual([]);
    expect((await cli('rm', 'k', '--image')).code).toBe(3); // no image was recorded
  });

  it('every command, even ls, exits 8 naming the disk when the database cannot grow', async () => {
    // fill the rest, to the last page
    spawnSync('dd', ['if=/dev/zero', `of=${path.join(mnt, 'fill-rest')}`, 'bs=4096']);
    expect(free()).toBe(0);
    const ls = await cli('ls');
    expectDiskFull(ls);
    expect(ls.stderr).not.toContain('disk I/O error');
    expectDiskFull(await cli('import', kernel));
    const json = await cli('ls', '--json');
    expect(json.code).toBe(8);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'DISK_FULL' } });
  });

  it('works again once there is space', async () => {
    fs.rmSync(path.join(mnt, 'fill'));
    fs.rmSync(path.join(mnt, 'fill-rest'));
    const r = await cli('import', kernel, '--name', 'k');
    expect(r.code, r.stderr).toBe(0);
    expect((await cli('ls')).code).toBe(0);
  });
});
