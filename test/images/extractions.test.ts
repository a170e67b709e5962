/**
 * What was extracted from which archive is data (the extractions table), not a scan of the event
 * log's last rows (issue #10): a second pull reuses the kernel it extracted however long the log has
 * grown since, and a database written before the table is backfilled from the log when it opens.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Store, openDb } from '@core/store';
import { MIGRATIONS } from '@core/store/migrations';
import { testBytes } from '../helpers/http';
import { tmpDir } from '../helpers/tmp';
import { publish, sandbox, type Published, type Sandbox } from './fixtures';

let s: Sandbox;
beforeEach(async () => {
  s = await sandbox();
});
afterEach(() => s.close());

const hex = (c: string) => c.repeat(64);

describe('extractions', () => {
  it('a second pull reuses the extracted kernel after thousands of newer events, downloading nothing', async () => {
    const [rel] = (await publish(s, [
      {
        kernelRelease: `6.6.7-08000-g${'a'.repeat(12)}`,
        commit: '7'.repeat(40),
        publishedAt: '2025-05-07T00:40:00Z',
        bzImage: testBytes(120_000, 7),
      },
    ])) as [Published];
    const first = await s.cli(['pull', rel.tag]);
    expect(first.code, first.stderr).toBe(0);
    expect(s.server.requestsTo(rel.assetPath)).toHaveLength(1);

    const store = new Store(path.join(s.home, 'oklinux.db'));
    try {
      expect(store.extractions.get(tarballSha(store, rel), 'arch/x86/boot/bzImage')).toBe(rel.bzImageSha);
      store.tx(() => {
        for (let i = 0; i < 3000; i++) store.events.append('test.noise', null, { i });
      });
    } finally {
      store.close();
    }

    const again = await s.cli(['pull', rel.tag]);
    expect(again.code, again.stderr).toBe(0);
    expect(s.server.requestsTo(rel.assetPath)).toHaveLength(1);
  });

  it('a database from before the table is backfilled from the event log (the newest extraction wins)', () => {
    const t = tmpDir('oklinux-extractions-');
    try {
      const file = path.join(t.dir, 'oklinux.db');
      const v3 = openDb(file, MIGRATIONS.slice(0, 3));
      const log = v3.prepare('INSERT INTO events(at, kind, subject, data) VALUES (?, ?, ?, ?)');
      const ev = (from: string, member: string | null, sha256: string) =>
        log.run('2025-01-01T00:00:00Z', 'artifact.extracted', 'kernel of x', JSON.stringify({ from, member, sha256 }));
      ev(hex('a'), 'arch/x86/boot/bzImage', hex('b'));
      ev(hex('a'), 'arch/x86/boot/bzImage', hex('c'));
      ev(hex('d'), 'bin/bldy', hex('e'));
      ev('short', 'bin/bldy', hex('f')); // not a digest: left out
      ev(hex('f'), null, hex('f'));
      v3.close();

      const store = new Store(file);
      try {
        expect(store.schemaVersion).toBe(MIGRATIONS.length);
        expect(store.extractions.get(hex('a'), 'arch/x86/boot/bzImage')).toBe(hex('c'));
        expect(store.extractions.get(hex('d'), 'bin/bldy')).toBe(hex('e'));
        expect(store.extractions.get('short', 'bin/bldy')).toBeUndefined();
        expect(store.db.prepare('SELECT count(*) AS n FROM extractions').get()).toEqual({ n: 2 });
      } finally {
        store.close();
      }
    } finally {
      t.cleanup();
    }
  });
});

/** The digest of the release tarball, as recorded in the store. */
function tarballSha(store: Store, rel: Published): string {
  const a = store.artifacts.list().find((x) => x.origin.endsWith(rel.assetPath));
  if (!a) throw new Error(`no artifact came from ${rel.assetPath}`);
  return a.sha256;
}
