import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OkError } from '@contract/errors';
import {
  BLDY_MSIZE,
  QEMU_MSIZE,
  ROOT_TAG,
  defaultGuestPath,
  fstabLine,
  mountOptions,
  mountParam,
  rootParams,
  tagFor,
  validateGuestPath,
  validateHostDir,
  validateTag,
} from '@core/shares';
import { runUnprivileged } from './unprivileged';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof OkError) return e.code;
    throw e;
  }
  throw new Error('expected an OkError');
}

describe('tagFor', () => {
  it('uses the basename, keeping letters, digits, "-" and "_"', () => {
    expect(tagFor('/home/u/Projects', [])).toBe('Projects');
    expect(tagFor('/home/u/my-src_2/', [])).toBe('my-src_2');
  });

  it('replaces other characters and folds accents', () => {
    expect(tagFor('/home/u/My Documents', [])).toBe('My_Documents');
    expect(tagFor('/data/a:b c,d', [])).toBe('a_b_c_d');
    expect(tagFor('/home/u/Café Résumé', [])).toBe('Cafe_Resume');
    expect(tagFor('/home/u/.config', [])).toBe('config');
  });

  it('never returns an empty tag', () => {
    expect(tagFor('/', [])).toBe('share');
    expect(tagFor('/home/u/日本語', [])).toBe('share');
    expect(tagFor('/home/u/...', [])).toBe('share');
  });

  it('keeps tags at most 31 bytes', () => {
    const tag = tagFor('/x/' + 'a'.repeat(40), []);
    expect(tag).toBe('a'.repeat(31));
  });

  it('makes tags unique with -2, -3 … within 31 bytes', () => {
    expect(tagFor('/a/src', ['src'])).toBe('src-2');
    expect(tagFor('/b/src', ['src', 'src-2'])).toBe('src-3');
    const long = 'b'.repeat(31);
    expect(tagFor('/x/' + long, [long])).toBe('b'.repeat(29) + '-2');
    const taken = [long, ...Array.from({ length: 9 }, (_, i) => 'b'.repeat(i + 2 < 10 ? 29 : 28) + `-${i + 2}`)];
    expect(tagFor('/x/' + long, taken)).toBe('b'.repeat(28) + '-11');
  });

  it('never returns the reserved root tag', () => {
    expect(ROOT_TAG).toBe('oklinux-root');
    expect(tagFor('/srv/oklinux-root', [])).toBe('oklinux-root-2');
  });

  it('produces tags that validateTag accepts', () => {
    for (const p of ['/a/b c', '/x/' + 'z'.repeat(50), '/', '/srv/oklinux-root', '/q/-lead-']) {
      expect(() => validateTag(tagFor(p, []))).not.toThrow();
    }
  });
});

describe('validateTag', () => {
  it('accepts 1-31 bytes of [A-Za-z0-9_-]', () => {
    expect(() => validateTag('a')).not.toThrow();
    expect(() => validateTag('Data_1-x')).not.toThrow();
    expect(() => validateTag('t'.repeat(31))).not.toThrow();
  });

  it('rejects empty, long, reserved and odd tags', () => {
    expect(codeOf(() => validateTag(''))).toBe('INVALID_INPUT');
    expect(codeOf(() => validateTag('t'.repeat(32)))).toBe('INVALID_INPUT');
    expect(codeOf(() => validateTag('a:b'))).toBe('INVALID_INPUT');
    expect(codeOf(() => validateTag('a b'))).toBe('INVALID_INPUT');
    expect(codeOf(() => validateTag('a,b'))).toBe('INVALID_INPUT');
    expect(codeOf(() => validateTag('é'))).toBe('INVALID_INPUT');
    expect(codeOf(() => validateTag(ROOT_TAG))).toBe('INVALID_INPUT');
    expect(() => validateTag('t'.repeat(32))).toThrow(/32 bytes.*at most 31/);
    expect(() => validateTag('a:b')).toThrow(/"a_b"/);
    expect(() => validateTag(ROOT_TAG)).toThrow(/reserved/);
  });
});

describe('validateGuestPath', () => {
  it('accepts absolute normalized paths', () => {
    for (const p of ['/mnt/data', '/home/user/src', '/srv/a.b-c_d', '/opt'])
      expect(() => validateGuestPath(p)).not.toThrow();
  });

  it('rejects what would break the mount parameter or the guest', () => {
    const bad = [
      'mnt/data',
      '',
      '/',
      '/mnt/a b',
      '/mnt/a:b',
      '/mnt/a\tb',
      '/mnt/../etc',
      '/mnt/x/..',
      '/mnt//x',
      '/mnt/x/',
      '/mnt/./x',
      '/mnt/"x"',
      '/mnt/a\\b',
      '/etc',
      '/proc',
      '/usr',
    ];
    for (const p of bad)
      expect(
        codeOf(() => validateGuestPath(p)),
        p,
      ).toBe('INVALID_INPUT');
    expect(() => validateGuestPath('/mnt//x')).toThrow(/"\/mnt\/x"/);
  });

  it('defaults to /mnt/<tag>', () => {
    expect(defaultGuestPath('data')).toBe('/mnt/data');
    expect(() => validateGuestPath(defaultGuestPath('data'))).not.toThrow();
  });
});

describe('mount options', () => {
  it("uses one msize per backend, within bldy's 9p cap", () => {
    expect(QEMU_MSIZE).toBe(512000);
    expect(BLDY_MSIZE).toBeLessThanOrEqual(65560);
    expect(mountOptions('qemu', false)).toBe('trans=virtio,version=9p2000.L,msize=512000,cache=mmap');
    expect(mountOptions('qemu', true)).toBe('trans=virtio,version=9p2000.L,msize=512000,cache=mmap,ro');
    expect(mountOptions('bldy', false)).toBe('trans=virtio,version=9p2000.L,msize=65560,cache=mmap');
    expect(mountOptions('bldy', true)).toBe('trans=virtio,version=9p2000.L,msize=65560,cache=mmap,ro');
  });

  it('builds the kernel parameter and the fstab line', () => {
    const share = { tag: 'src', guestPath: '/home/user/src', mountOptions: mountOptions('qemu', true) };
    expect(mountParam(share)).toBe(
      'oklinux.mount=src:/home/user/src:trans=virtio,version=9p2000.L,msize=512000,cache=mmap,ro',
    );
    expect(fstabLine(share)).toBe(
      'src /home/user/src 9p trans=virtio,version=9p2000.L,msize=512000,cache=mmap,ro,_netdev,nofail 0 0',
    );
  });

  it('builds the root parameters', () => {
    expect(rootParams('bldy')).toBe(
      'root=oklinux-root rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=65560,cache=loose rw',
    );
    expect(rootParams('qemu', 'r')).toBe(
      'root=r rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=512000,cache=loose rw',
    );
  });
});

describe('validateHostDir', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oklinux-shares-'));
    fs.chmodSync(tmp, 0o755);
    fs.mkdirSync(path.join(tmp, 'dir'));
    fs.mkdirSync(path.join(tmp, 'a:b c,d'));
    fs.writeFileSync(path.join(tmp, 'file'), 'x');
    fs.mkdirSync(path.join(tmp, 'locked'), { mode: 0o700 });
    fs.chmodSync(path.join(tmp, 'locked'), 0o000);
    fs.mkdirSync(path.join(tmp, 'readonly'), { mode: 0o755 });
    fs.chmodSync(path.join(tmp, 'readonly'), 0o555);
    fs.symlinkSync(path.join(tmp, 'dir'), path.join(tmp, 'link'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const rejection = async (p: Promise<void>): Promise<OkError> => {
    const e = await p.then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(OkError);
    return e as OkError;
  };

  it('accepts directories, odd names and symlinks to directories', async () => {
    await validateHostDir(path.join(tmp, 'dir'));
    await validateHostDir(path.join(tmp, 'a:b c,d'), { writable: true });
    await validateHostDir(path.join(tmp, 'link'));
  });

  it('rejects relative, missing and non-directory paths, naming the path', async () => {
    const rel = await rejection(validateHostDir('some/dir'));
    expect(rel.code).toBe('INVALID_INPUT');
    expect(rel.message).toContain('"some/dir" is not an absolute path');
    const missing = await rejection(validateHostDir(path.join(tmp, 'nope')));
    expect(missing.code).toBe('NOT_FOUND');
    expect(missing.message).toContain(path.join(tmp, 'nope'));
    const under = await rejection(validateHostDir(path.join(tmp, 'file', 'sub')));
    expect(under.code).toBe('NOT_FOUND');
    const file = await rejection(validateHostDir(path.join(tmp, 'file')));
    expect(file.code).toBe('INVALID_INPUT');
    expect(file.message).toContain('is not a directory');
  });

  it('rejects folders the user cannot read, or write when asked (as an unprivileged user)', () => {
    const answer = runUnprivileged(`
      import { validateHostDir } from '@core/shares/paths';
      const out = [];
      for (const [p, writable] of [[${JSON.stringify(path.join(tmp, 'locked'))}, false], [${JSON.stringify(path.join(tmp, 'readonly'))}, true], [${JSON.stringify(path.join(tmp, 'readonly'))}, false]]) {
        try { await validateHostDir(p, { writable }); out.push('ok'); } catch (e) { out.push({ code: e.code, message: e.message }); }
      }
      console.log(JSON.stringify(out));
    `) as [{ code: string; message: string }, { code: string; message: string }, string];
    expect(answer[0].code).toBe('INVALID_INPUT');
    expect(answer[0].message).toContain(`${path.join(tmp, 'locked')} is not accessible`);
    expect(answer[0].message).toContain('read and search');
    expect(answer[1].code).toBe('INVALID_INPUT');
    expect(answer[1].message).toContain('share it read-only');
    expect(answer[2]).toBe('ok');
  });
});
