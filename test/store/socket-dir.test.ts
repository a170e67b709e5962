/**
 * Socket paths never exceed the unix limit (a longer one is cut short silently by the kernel),
 * and the short per-user folder in the shared /tmp is used only when it is ours: a folder
 * another user made first, a symlink, or an open one is refused, never used or chmod-ed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OkError } from '@contract/errors';
import { DataPaths, SOCKET_NAMES, SOCKET_PATH_MAX, shortSocketBase } from '@core/paths';
import { ensureOwnPrivateDir, ensureSocketDir } from '@core/run-dir';
import { tmpDir } from '../helpers/tmp';

const t = tmpDir('oklinux-sockdir-');
afterAll(() => t.cleanup());

const NOBODY = 65534;
const mode = (p: string): number => fs.statSync(p).mode & 0o7777;

function refused(dir: string, why: RegExp): void {
  let err: unknown;
  try {
    ensureOwnPrivateDir(dir);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(OkError);
  expect((err as OkError).code).toBe('DATA_DIR');
  expect((err as OkError).message).toContain(dir);
  expect((err as OkError).message).toMatch(why);
}

describe('where sockets go', () => {
  it('stays in run/<id>/ while every socket path fits', () => {
    const p = new DataPaths('/home/me/.local/share/oklinux');
    expect(p.socketDir(7)).toBe('/home/me/.local/share/oklinux/run/7');
    expect(p.socket(7, 'console.sock')).toBe('/home/me/.local/share/oklinux/run/7/console.sock');
  });

  it('moves to the short per-user folder when run/<id>/console.sock would pass the limit', () => {
    for (const len of [84, 100, 120, 250]) {
      const root = `/${'d'.repeat(len - 1)}`;
      const p = new DataPaths(root);
      for (const id of [1, 123456]) {
        for (const n of SOCKET_NAMES)
          expect(Buffer.byteLength(p.socket(id, n)), `${len} ${id} ${n}`).toBeLessThanOrEqual(SOCKET_PATH_MAX);
      }
      const inRun = path.join(root, 'run', '1', 'control.sock');
      if (Buffer.byteLength(inRun) > SOCKET_PATH_MAX) {
        expect(p.socketDir(1).startsWith(`${shortSocketBase()}/`)).toBe(true);
        // two data directories never share a socket folder
        expect(new DataPaths(`${root}x`).socketDir(1)).not.toBe(p.socketDir(1));
      } else {
        expect(p.socketDir(1)).toBe(path.join(root, 'run', '1'));
      }
    }
    expect(shortSocketBase('/tmp', 1000)).toBe('/tmp/oklinux-1000');
  });

  it('creates the folders 0700 and a socket fits', () => {
    const base = path.join(t.dir, 'fresh', `oklinux-${process.geteuid!()}`);
    fs.mkdirSync(path.dirname(base));
    const root = path.join(t.dir, 'x'.repeat(120));
    const p = new DataPaths(root, base);
    const dir = ensureSocketDir(p, 3);
    expect(path.dirname(dir)).toBe(base);
    expect(mode(base)).toBe(0o700);
    expect(mode(dir)).toBe(0o700);
    expect(fs.lstatSync(base).uid).toBe(process.geteuid!());
    expect(ensureSocketDir(p, 3)).toBe(dir); // again: accepted as ours
  });
});

describe('the short folder in a shared /tmp', () => {
  const shared = path.join(t.dir, 'tmp');
  fs.mkdirSync(shared, { recursive: true });
  fs.chmodSync(shared, 0o1777);

  it('is refused when another user made it first (uid 65534)', () => {
    const dir = path.join(shared, 'oklinux-taken');
    fs.mkdirSync(dir, { mode: 0o700 });
    fs.chownSync(dir, NOBODY, NOBODY);
    refused(dir, /belongs to uid 65534, not to this user/);
    // and through the socket path computation, with nothing made inside it
    const p = new DataPaths(path.join(t.dir, 'y'.repeat(120)), dir);
    expect(() => ensureSocketDir(p, 1)).toThrow(/belongs to uid 65534/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('is refused when it is a symlink, even to a private folder of ours', () => {
    const target = path.join(t.dir, 'elsewhere');
    fs.mkdirSync(target, { mode: 0o700 });
    const dir = path.join(shared, 'oklinux-link');
    fs.symlinkSync(target, dir);
    refused(dir, /is a symbolic link/);
  });

  it('is refused when it is open to others, and its mode is left alone', () => {
    const dir = path.join(shared, 'oklinux-open');
    fs.mkdirSync(dir);
    fs.chmodSync(dir, 0o777);
    refused(dir, /has mode 0777/);
    expect(mode(dir)).toBe(0o777);
  });

  it('is refused when it is a file', () => {
    const dir = path.join(shared, 'oklinux-file');
    fs.writeFileSync(dir, '');
    refused(dir, /is not a folder/);
  });
});
