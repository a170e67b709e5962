import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from 'tar';
import { extractMember } from '@core/extract';
import { isOkError, type OkError } from '@contract/errors';
import { tarGz, type Member } from './tarball';

const BZ = 'arch/x86/boot/bzImage';
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oklinux-member-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rejection(p: Promise<unknown>): Promise<OkError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isOkError(e)) throw new Error(`expected an OkError, got ${String(e)}`);
  return e;
}

async function archive(members: Member[]): Promise<string> {
  const p = join(dir, 'kernel.tar.gz');
  await writeFile(p, tarGz(members));
  return p;
}

describe('extractMember', () => {
  it('takes bzImage out of a tarball packed the way okLinux CI packs it', async () => {
    // tar czf <asset> -C kernel arch/x86/boot/bzImage
    const kernelTree = join(dir, 'kernel');
    await mkdir(join(kernelTree, 'arch/x86/boot'), { recursive: true });
    const image = randomBytes(300_000);
    await writeFile(join(kernelTree, BZ), image);
    const tgz = join(dir, 'oklinux-kernel-x86_64-6.6.76-g1234567-0123456789abcdef0123456789abcdef01234567.tar.gz');
    await create({ gzip: true, file: tgz, cwd: kernelTree }, [BZ]);

    const out = join(dir, 'images', 'vmlinuz');
    await mkdir(join(dir, 'images'));
    await writeFile(out, 'old kernel'); // replaced atomically
    const { size } = await extractMember(tgz, BZ, out);
    expect(size).toBe(image.length);
    expect((await readFile(out)).equals(image)).toBe(true);
    expect(await readdir(join(dir, 'images'))).toEqual(['vmlinuz']); // no temp dir left
  });

  it('matches "./"-prefixed members and ignores hostile siblings without writing them', async () => {
    const tgz = await archive([
      { name: '../../evil', data: 'no' },
      { name: '/etc/evil', data: 'no' },
      { name: 'link', type: 'symlink', link: '/etc' },
      { name: `./${BZ}`, data: 'KERNEL' },
    ]);
    const out = join(dir, 'bzImage');
    await extractMember(tgz, BZ, out);
    expect(await readFile(out, 'utf8')).toBe('KERNEL');
    expect((await readdir(dir)).sort()).toEqual(['bzImage', 'kernel.tar.gz']);
  });

  it('names the missing member and lists what the archive holds', async () => {
    const tgz = await archive([
      { name: 'arch/', type: 'dir' },
      { name: 'arch/x86/', type: 'dir' },
      { name: 'arch/x86/boot/', type: 'dir' },
      { name: 'arch/x86/boot/vmlinux.bin', data: 'x' },
    ]);
    const e = await rejection(extractMember(tgz, BZ, join(dir, 'out')));
    expect(e.code).toBe('ARCHIVE');
    expect(e.message).toContain(`has no member "${BZ}"`);
    expect(e.message).toContain('"arch/x86/boot/vmlinux.bin"');
    expect((await readdir(dir)).sort()).toEqual(['kernel.tar.gz']);
  });

  it('truncates the listing of a big archive', async () => {
    const members = Array.from({ length: 25 }, (_, i) => ({ name: `f${i}`, data: 'x' }));
    const e = await rejection(extractMember(await archive(members), BZ, join(dir, 'out')));
    expect(e.message).toContain('"f9" and 15 more');
    expect(e.message).not.toContain('"f10"');
  });

  const refused: Array<{ what: string; member: Member; rule: RegExp }> = [
    { what: 'a symlink', member: { name: BZ, type: 'symlink', link: '/boot/vmlinuz' }, rule: /is a symbolic link/ },
    { what: 'a hard link', member: { name: BZ, type: 'hardlink', link: 'other' }, rule: /is a hard link/ },
    { what: 'a character device', member: { name: BZ, type: 'char' }, rule: /is a character device/ },
    { what: 'a block device', member: { name: BZ, type: 'block' }, rule: /is a block device/ },
    { what: 'a FIFO', member: { name: BZ, type: 'fifo' }, rule: /is a FIFO/ },
    { what: 'a directory', member: { name: `${BZ}/`, type: 'dir' }, rule: /is a directory/ },
    {
      what: 'oversized',
      member: { name: BZ, data: Buffer.alloc(5000) },
      rule: /it is 4\.9 KiB, over the 4\.0 KiB limit/,
    },
  ];
  for (const r of refused) {
    it(`refuses the member when it is ${r.what}`, async () => {
      const tgz = await archive([{ name: 'other', data: 'x' }, r.member]);
      const e = await rejection(extractMember(tgz, BZ, join(dir, 'out'), { maxBytes: 4096 }));
      expect(e.code).toBe('ARCHIVE');
      expect(e.message).toContain(`member "${r.member.name}" rejected`);
      expect(e.message).toMatch(r.rule);
      expect((await readdir(dir)).sort()).toEqual(['kernel.tar.gz']);
    });
  }

  it('refuses member names that are not relative paths inside the archive', async () => {
    const tgz = await archive([{ name: BZ, data: 'x' }]);
    for (const bad of ['../bzImage', '/arch/x86/boot/bzImage', '', '.']) {
      const e = await rejection(extractMember(tgz, bad, join(dir, 'out')));
      expect(e.code).toBe('INVALID_INPUT');
    }
  });

  it('says NOT_FOUND for a missing archive', async () => {
    const e = await rejection(extractMember(join(dir, 'nope.tar.gz'), BZ, join(dir, 'out')));
    expect(e.code).toBe('NOT_FOUND');
    expect(e.message).toContain('nope.tar.gz');
  });
});
