import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from 'tar';
import { extractTree } from '@core/extract';
import { isOkError, type OkError } from '@contract/errors';
import { tarBytes, tarGz, type Member } from './tarball';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oklinux-tree-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function archive(members: Member[], name = 'rootfs.tar.gz'): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, tarGz(members));
  return p;
}

async function rejection(p: Promise<unknown>): Promise<OkError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isOkError(e)) throw new Error(`expected an OkError, got ${String(e)}`);
  return e;
}

const mode = async (p: string) => (await lstat(p)).mode & 0o7777;

describe('extractTree: a small rootfs', () => {
  it('keeps modes, absolute and relative inner symlinks, hard links; skips devices', async () => {
    const tgz = await archive([
      { name: './', type: 'dir', mode: 0o755 },
      { name: './bin/', type: 'dir', mode: 0o755 },
      { name: './bin/busybox', mode: 0o755, data: '#!busybox\n' },
      { name: './bin/sh', type: 'symlink', link: '/bin/busybox' },
      { name: './dev/', type: 'dir', mode: 0o755 },
      { name: './dev/null', type: 'char', mode: 0o666 },
      { name: './dev/initctl', type: 'fifo', mode: 0o600 },
      { name: './etc/', type: 'dir', mode: 0o755 },
      { name: './etc/shadow', mode: 0o640, data: 'root:*:1::::::\n' },
      { name: './etc/motd', mode: 0o444, data: 'hello\n' },
      { name: './lib/', type: 'dir', mode: 0o755 },
      { name: './lib/ld-musl-x86_64.so.1', mode: 0o755, data: 'ELF' },
      { name: './lib/libc.musl-x86_64.so.1', type: 'symlink', link: 'ld-musl-x86_64.so.1' },
      { name: './usr/bin/', type: 'dir', mode: 0o755 },
      { name: './usr/bin/passwd', mode: 0o4755, data: 'suid' },
      { name: './usr/bin/chpasswd', type: 'hardlink', link: './usr/bin/passwd' },
      { name: './usr/bin/env', type: 'symlink', link: '../../bin/busybox' },
      { name: './tmp/', type: 'dir', mode: 0o1777 },
      { name: './proc/', type: 'dir', mode: 0o555 },
      { name: './sbin/init', type: 'symlink', link: '/bin/busybox' }, // no entry for sbin/
    ]);
    const dest = join(dir, 'rootfs');
    const result = await extractTree(tgz, dest);

    expect(result.bytes).toBe('#!busybox\n'.length + 'root:*:1::::::\n'.length + 6 + 3 + 4);
    expect(result.skipped).toEqual([
      { path: 'dev/null', type: 'CharacterDevice' },
      { path: 'dev/initctl', type: 'FIFO' },
    ]);
    expect(await mode(dest)).toBe(0o755);
    expect(await mode(join(dest, 'bin/busybox'))).toBe(0o755);
    expect(await mode(join(dest, 'etc/shadow'))).toBe(0o640);
    expect(await mode(join(dest, 'etc/motd'))).toBe(0o444);
    expect(await mode(join(dest, 'usr/bin/passwd'))).toBe(0o4755);
    expect(await mode(join(dest, 'tmp'))).toBe(0o1777);
    expect(await mode(join(dest, 'proc'))).toBe(0o755); // u+rwx kept on directories
    expect(await readlink(join(dest, 'bin/sh'))).toBe('/bin/busybox');
    expect(await readlink(join(dest, 'sbin/init'))).toBe('/bin/busybox');
    expect(await readlink(join(dest, 'lib/libc.musl-x86_64.so.1'))).toBe('ld-musl-x86_64.so.1');
    expect(await readFile(join(dest, 'usr/bin/env'), 'utf8')).toBe('#!busybox\n');
    const [a, b] = await Promise.all([lstat(join(dest, 'usr/bin/passwd')), lstat(join(dest, 'usr/bin/chpasswd'))]);
    expect(b.ino).toBe(a.ino);
    expect(await readdir(join(dest, 'dev'))).toEqual([]);
    expect((await readdir(dir)).sort()).toEqual(['rootfs', 'rootfs.tar.gz']); // no temp dir left
  });

  it('unpacks what node-tar itself packs, with relative symlinks', async () => {
    const src = join(dir, 'src');
    await mkdir(join(src, 'etc/apk'), { recursive: true });
    await writeFile(join(src, 'etc/apk/world'), 'alpine-base\n', { mode: 0o600 });
    await writeFile(join(src, 'etc/os-release'), 'ID=alpine\n');
    await symlink('os-release', join(src, 'etc/issue'));
    const tgz = join(dir, 'packed.tar.gz');
    await create({ gzip: true, file: tgz, cwd: src, portable: true }, ['etc']);

    const dest = join(dir, 'out');
    const result = await extractTree(tgz, dest);
    expect(result.skipped).toEqual([]);
    expect(await readFile(join(dest, 'etc/apk/world'), 'utf8')).toBe('alpine-base\n');
    expect(await mode(join(dest, 'etc/apk/world'))).toBe(0o600);
    expect(await readlink(join(dest, 'etc/issue'))).toBe('os-release');
  });
});

describe('extractTree: hostile archives are refused, nothing is left behind', () => {
  // Every case names the member in the message and leaves no dest, no temp dir, no file outside.
  const cases: Array<{ what: string; members: Member[]; member: string; rule: RegExp }> = [
    {
      what: 'a ../ path',
      members: [{ name: '../evil', data: 'x' }],
      member: '../evil',
      rule: /"\.\." components are not allowed/,
    },
    {
      what: 'a ".." hidden inside a path',
      members: [{ name: 'a/b/../../../evil', data: 'x' }],
      member: 'a/b/../../../evil',
      rule: /"\.\." components/,
    },
    {
      what: 'an absolute path',
      members: [{ name: '/etc/evil', data: 'x' }],
      member: '/etc/evil',
      rule: /absolute member paths are not allowed/,
    },
    {
      what: 'a relative symlink that climbs out of the root',
      members: [
        { name: 'etc/', type: 'dir' },
        { name: 'etc/escape', type: 'symlink', link: '../../outside' },
      ],
      member: 'etc/escape',
      rule: /points outside the root/,
    },
    {
      what: 'an absolute symlink with ".." above the root',
      members: [{ name: 'up', type: 'symlink', link: '/../outside' }],
      member: 'up',
      rule: /points outside the root/,
    },
    {
      what: 'a hard link out of the root',
      members: [{ name: 'hl', type: 'hardlink', link: '../outside/secret' }],
      member: 'hl',
      rule: /hard link target "\.\.\/outside\/secret": "\.\." components/,
    },
    {
      what: 'a hard link to an absolute path',
      members: [{ name: 'hl', type: 'hardlink', link: '/etc/passwd' }],
      member: 'hl',
      rule: /absolute member paths/,
    },
    {
      what: 'a hard link to a file not in the archive',
      members: [{ name: 'hl', type: 'hardlink', link: 'etc/passwd' }],
      member: 'hl',
      rule: /not an earlier regular file of the archive/,
    },
    {
      what: 'a hard link to a symlink',
      members: [
        { name: 'sl', type: 'symlink', link: '/etc/passwd' },
        { name: 'hl', type: 'hardlink', link: 'sl' },
      ],
      member: 'hl',
      rule: /replace the symbolic link|not an earlier regular file/,
    },
    {
      what: 'an oversized member',
      members: [{ name: 'big', data: Buffer.alloc(4096, 1) }],
      member: 'big',
      rule: /4\.0 KiB, over the 1\.0 KiB limit per file/,
    },
    {
      what: 'files that add up past the total limit',
      members: [
        { name: 'a', data: Buffer.alloc(1000) },
        { name: 'b', data: Buffer.alloc(1000) },
        { name: 'c', data: Buffer.alloc(1000) },
      ],
      member: 'c',
      rule: /over the 2\.0 KiB limit/,
    },
  ];

  for (const c of cases) {
    it(`refuses ${c.what}`, async () => {
      const tgz = await archive(c.members);
      const dest = join(dir, 'rootfs');
      const e = await rejection(extractTree(tgz, dest, { maxMemberBytes: 1024, maxTotalBytes: 2048 }));
      expect(e.code).toBe('ARCHIVE');
      expect(e.message).toContain(JSON.stringify(c.member));
      expect(e.message).toMatch(c.rule);
      expect((await readdir(dir)).sort()).toEqual(['rootfs.tar.gz']);
    });
  }

  it('does not write through a symlink made by an earlier member (symlink, then file)', async () => {
    const outside = join(dir, 'outside');
    await mkdir(outside);
    // An absolute target is fine inside a guest root, but on the host it names `outside`.
    const tgz = await archive([
      { name: 'link', type: 'symlink', link: outside },
      { name: 'link/pwned', data: 'gotcha' },
    ]);
    const e = await rejection(extractTree(tgz, join(dir, 'rootfs')));
    expect(e.code).toBe('ARCHIVE');
    expect(e.message).toContain('"link/pwned"');
    expect(e.message).toMatch(/goes through the symbolic link "link"/);
    expect(await readdir(outside)).toEqual([]);
    expect((await readdir(dir)).sort()).toEqual(['outside', 'rootfs.tar.gz']);
  });

  it('does not let a file replace an earlier symlink, nor a symlink an earlier member', async () => {
    const outside = join(dir, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'victim'), 'safe');
    const overSymlink = await archive([
      { name: 'v', type: 'symlink', link: join(outside, 'victim') },
      { name: 'v', data: 'overwritten' },
    ]);
    const e1 = await rejection(extractTree(overSymlink, join(dir, 'r1')));
    expect(e1.message).toMatch(/"v" rejected: it would replace the symbolic link "v"/);

    const overDir = await archive(
      [
        { name: 'd/', type: 'dir' },
        { name: 'd/f', data: 'x' },
        { name: 'd', type: 'symlink', link: outside },
      ],
      'b.tar.gz',
    );
    const e2 = await rejection(extractTree(overDir, join(dir, 'r2')));
    expect(e2.message).toMatch(/"d" rejected: a symbolic link would replace an earlier member/);
    expect(await readFile(join(outside, 'victim'), 'utf8')).toBe('safe');
  });

  it('refuses a symlink under a regular file', async () => {
    const tgz = await archive([
      { name: 'f', data: 'x' },
      { name: 'f/x', type: 'symlink', link: '/bin/busybox' },
    ]);
    const e = await rejection(extractTree(tgz, join(dir, 'r')));
    expect(e.code).toBe('ARCHIVE');
    expect(e.message).toMatch(/"f\/x" rejected: cannot create the symbolic link: .* is not a directory/);
    expect(await readdir(dir)).toEqual(['rootfs.tar.gz']);
  });

  it('refuses a damaged or truncated archive', async () => {
    const junk = join(dir, 'junk.tar.gz');
    await writeFile(junk, Buffer.from('this is not a tarball at all, not even gzip, just words'));
    const e1 = await rejection(extractTree(junk, join(dir, 'r1')));
    expect(e1.code).toBe('ARCHIVE');
    expect(e1.message).toContain(junk);

    const whole = tarBytes([{ name: 'f', data: Buffer.alloc(3000, 7) }]);
    const cut = join(dir, 'cut.tar');
    await writeFile(cut, whole.subarray(0, 1536));
    const e2 = await rejection(extractTree(cut, join(dir, 'r2')));
    expect(e2.code).toBe('ARCHIVE');
    expect((await readdir(dir)).sort()).toEqual(['cut.tar', 'junk.tar.gz']);
  });

  it('will not unpack over a non-empty destination', async () => {
    const tgz = await archive([{ name: 'f', data: 'x' }]);
    const dest = join(dir, 'rootfs');
    await mkdir(dest);
    await writeFile(join(dest, 'keep'), 'mine');
    const e = await rejection(extractTree(tgz, dest));
    expect(e.code).toBe('ALREADY_EXISTS');
    expect(await readFile(join(dest, 'keep'), 'utf8')).toBe('mine');
  });
});
