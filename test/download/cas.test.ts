import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContentStore, sha256File } from '@core/download';
import { sha256Hex, testBytes } from '../helpers/http';
import { tmpDir } from '../helpers/tmp';

let dir: string;
let cleanup: () => void;

beforeEach(() => {
  ({ dir, cleanup } = tmpDir('oklinux-cas-'));
});
afterEach(() => cleanup());

describe('ContentStore', () => {
  it('imports, finds, verifies, lists and removes files by their sha256', async () => {
    const cas = new ContentStore(path.join(dir, 'store'));
    const data = testBytes(3 * 1024 * 1024 + 17);
    const src = path.join(dir, 'kernel.bin');
    fs.writeFileSync(src, data);
    const sha = sha256Hex(data);

    expect(await cas.has(sha)).toBe(false);
    expect(await cas.list()).toEqual([]);

    const entry = await cas.importFile(src);
    expect(entry).toEqual({ sha256: sha, size: data.length, path: path.join(dir, 'store', 'sha256', sha) });
    expect(cas.path(sha)).toBe(entry.path);
    expect(fs.readFileSync(entry.path).equals(data)).toBe(true);
    expect(fs.existsSync(src)).toBe(true); // a copy, not a move
    expect(await cas.has(sha)).toBe(true);
    expect(await cas.has(sha, data.length)).toBe(true);
    expect(await cas.has(sha, data.length + 1)).toBe(false);
    expect(await cas.sizeOf(sha)).toBe(data.length);
    expect(await cas.verify(sha)).toEqual({ ok: true });
    expect(await cas.list()).toEqual([{ sha256: sha, size: data.length }]);
    expect(fs.readdirSync(cas.dir)).toEqual([sha]); // no temp files left behind

    // Corrupt it on disk: verify says so and names the actual digest.
    const fd = fs.openSync(entry.path, 'r+');
    fs.writeSync(fd, Buffer.from([0xff ^ data[100]!]), 0, 1, 100);
    fs.closeSync(fd);
    const bad = await cas.verify(sha);
    expect(bad.ok).toBe(false);
    expect(bad).toEqual({ ok: false, actual: (await sha256File(entry.path)).sha256 });

    expect(await cas.remove(sha)).toBe(true);
    expect(await cas.remove(sha)).toBe(false);
    expect(await cas.has(sha)).toBe(false);
  });

  it('rejects names that are not sha256 digests and reports missing files', async () => {
    const cas = new ContentStore(dir);
    expect(() => cas.path('../../etc/passwd')).toThrow(/SHA-256/);
    await expect(cas.verify('a'.repeat(64))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
