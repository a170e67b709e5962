/**
 * The repository layer: the only place with SQL. Every SQLite failure that a
 * caller can cause (unique names, missing rows, constraints) becomes a typed
 * OkError with a message for people.
 *
 * This folder (core/store/) is the SQLite state: the migrations (append only) and an object of queries
 * per table. It is the only place with SQL; nothing above it writes SQL or treats the event log as data.
 */
import { OkError } from '@contract/errors';
import type { DownloadRecord } from '@core/download/types';
import type { Settings } from '@contract';
import { openDb, schemaVersion, type Db } from './db';

export { openDb, schemaVersion, SCHEMA_VERSION } from './db';
export type { Db } from './db';
import { guard } from './errors';
import {
  artifactFromRaw,
  downloadFromRaw,
  sourceFromRaw,
  type ArtifactRow,
  type EventRow,
  type ImageRow,
  type Raw,
  type SourceRow,
} from './rows';
import { portTable, remoteShareTable, shareTable, vmTable } from './tables';

export { mapSqliteError } from './errors';
export type { ArtifactRow, EventRow, ImageRow, PortRow, RemoteShareRow, ShareRow, SourceRow, VmRow } from './rows';

const now = (): string => new Date().toISOString();

export const DEFAULT_SETTINGS: Settings = {
  backend: 'auto',
  accel: 'auto',
  bldyPath: null,
  githubApi: 'https://api.github.com',
  proxy: null,
};

// ---------------------------------------------------------------- the store

export class Store {
  readonly db: Db;
  constructor(readonly file: string) {
    this.db = openDb(file);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  get schemaVersion(): number {
    return schemaVersion(this.db);
  }

  /** Run `fn` in one IMMEDIATE transaction (a writer lock from the start). */
  tx<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  // ---- settings
  readonly settings = {
    get: (): Settings => {
      const rows = this.db.prepare('SELECT key, value FROM settings').all() as { key: string; value: string }[];
      const out: Settings = { ...DEFAULT_SETTINGS };
      for (const { key, value } of rows) {
        if (key in out) (out as Record<string, unknown>)[key] = JSON.parse(value);
      }
      return out;
    },
    set: (patch: Partial<Settings>): Settings => {
      const stmt = this.db.prepare(
        'INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      );
      this.tx(() => {
        for (const [k, v] of Object.entries(patch)) if (v !== undefined) stmt.run(k, JSON.stringify(v));
      });
      return this.settings.get();
    },
  };

  // ---- catalog sources
  readonly sources = {
    list: (): SourceRow[] =>
      (this.db.prepare('SELECT * FROM catalog_sources ORDER BY id').all() as Raw[]).map(sourceFromRaw),
    add: (kind: SourceRow['kind'], location: string, body: string | null): SourceRow =>
      guard(`The catalog source ${location}`, () => {
        const info = this.db
          .prepare('INSERT INTO catalog_sources(kind, location, body, added_at) VALUES (?, ?, ?, ?)')
          .run(kind, location, body, now());
        return this.sources.get(Number(info.lastInsertRowid));
      }),
    get: (id: number): SourceRow => {
      const r = this.db.prepare('SELECT * FROM catalog_sources WHERE id = ?').get(id) as Raw | undefined;
      const row = r && sourceFromRaw(r);
      if (!row)
        throw new OkError(
          'NOT_FOUND',
          `There is no catalog source with id ${id}. List them with "oklinux catalog ls".`,
        );
      return row;
    },
    setBody: (id: number, body: string): void => {
      this.db.prepare('UPDATE catalog_sources SET body = ? WHERE id = ?').run(body, id);
    },
    remove: (id: number): void => {
      const info = this.db.prepare('DELETE FROM catalog_sources WHERE id = ?').run(id);
      if (info.changes === 0) throw new OkError('NOT_FOUND', `There is no catalog source with id ${id}.`);
    },
  };

  // ---- conditional-GET cache for catalog listings
  readonly httpCache = {
    get: (url: string): { etag: string | null; body: string } | undefined => {
      const r = this.db.prepare('SELECT etag, body FROM http_cache WHERE url = ?').get(url) as
        { etag: string | null; body: string } | undefined;
      return r;
    },
    put: (url: string, etag: string | null, body: string): void => {
      this.db
        .prepare(
          `INSERT INTO http_cache(url, etag, body, fetched_at) VALUES (?, ?, ?, ?)
           ON CONFLICT(url) DO UPDATE SET etag = excluded.etag, body = excluded.body, fetched_at = excluded.fetched_at`,
        )
        .run(url, etag, body, now());
    },
  };

  // ---- artifacts (rows for the content-addressed store)
  readonly artifacts = {
    get: (sha256: string): ArtifactRow | undefined => {
      const r = this.db.prepare('SELECT * FROM artifacts WHERE sha256 = ?').get(sha256) as Raw | undefined;
      return r && artifactFromRaw(r);
    },
    put: (a: Omit<ArtifactRow, 'createdAt'>): void => {
      guard(`The artifact ${a.sha256}`, () =>
        this.db
          .prepare(
            `INSERT INTO artifacts(sha256, size, path, origin, created_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT(sha256) DO UPDATE SET size = excluded.size, path = excluded.path`,
          )
          .run(a.sha256, a.size, a.path, a.origin, now()),
      );
    },
    list: (): ArtifactRow[] =>
      (this.db.prepare('SELECT * FROM artifacts ORDER BY created_at').all() as Raw[]).map(artifactFromRaw),
    /** Artifacts no image refers to any more. */
    unreferenced: (): ArtifactRow[] =>
      (
        this.db
          .prepare(
            `SELECT * FROM artifacts a WHERE NOT EXISTS (SELECT 1 FROM image_artifacts ia WHERE ia.sha256 = a.sha256)
             ORDER BY created_at`,
          )
          .all() as Raw[]
      ).map(artifactFromRaw),
    remove: (sha256: string): void => {
      guard(`The artifact ${sha256}`, () => this.db.prepare('DELETE FROM artifacts WHERE sha256 = ?').run(sha256));
    },
  };

  // ---- installed images
  readonly images = {
    list: (): ImageRow[] =>
      (this.db.prepare('SELECT * FROM images ORDER BY installed_at DESC, id DESC').all() as Raw[]).map((r) =>
        this.imageFromRaw(r),
      ),
    find: (ref: string): ImageRow | undefined => {
      const r = this.db.prepare('SELECT * FROM images WHERE ref = ?').get(ref) as Raw | undefined;
      return r && this.imageFromRaw(r);
    },
    get: (ref: string): ImageRow => {
      const img = this.images.find(ref);
      if (!img) {
        throw new OkError('NOT_FOUND', `The image "${ref}" is not installed. Pull it with "oklinux pull ${ref}".`);
      }
      return img;
    },
    /** Record an installed image and its artifacts atomically (replacing an earlier install of the same ref). */
    install: (
      img: {
        ref: string;
        kind: ImageRow['kind'];
        version: string;
        cmdline: string;
        rootfsFormat?: string | null;
        virtioMmio?: boolean;
      },
      artifacts: { role: 'kernel' | 'initrd' | 'rootfs'; sha256: string }[],
    ): ImageRow =>
      guard(`The image "${img.ref}"`, () =>
        this.tx(() => {
          this.db.prepare('DELETE FROM images WHERE ref = ?').run(img.ref);
          const info = this.db
            .prepare(
              'INSERT INTO images(ref, kind, version, cmdline, installed_at, rootfs_format, virtio_mmio) VALUES (?, ?, ?, ?, ?, ?, ?)',
            )
            .run(img.ref, img.kind, img.version, img.cmdline, now(), img.rootfsFormat ?? null, img.virtioMmio ? 1 : 0);
          const ins = this.db.prepare('INSERT INTO image_artifacts(image_id, role, sha256) VALUES (?, ?, ?)');
          for (const a of artifacts) ins.run(info.lastInsertRowid, a.role, a.sha256);
          return this.images.get(img.ref);
        }),
      ),
    remove: (ref: string): void => {
      const info = this.db.prepare('DELETE FROM images WHERE ref = ?').run(ref);
      if (info.changes === 0) throw new OkError('NOT_FOUND', `The image "${ref}" is not installed.`);
    },
  };

  private imageFromRaw(r: Raw): ImageRow {
    const arts = this.db
      .prepare(
        `SELECT ia.role, a.sha256, a.size, a.path FROM image_artifacts ia JOIN artifacts a USING (sha256)
         WHERE ia.image_id = ? ORDER BY ia.role`,
      )
      .all(r.id) as ImageRow['artifacts'];
    return {
      id: r.id as number,
      ref: r.ref as string,
      kind: r.kind as ImageRow['kind'],
      version: r.version as string,
      cmdline: r.cmdline as string,
      installedAt: r.installed_at as string,
      rootfsFormat: (r.rootfs_format as string | null) ?? null,
      virtioMmio: r.virtio_mmio === 1,
      artifacts: arts,
    };
  }

  // ---- downloads (resume state): implements the downloader's DownloadStateStore
  readonly downloads = {
    get: (id: string): DownloadRecord | undefined => {
      const r = this.db.prepare('SELECT * FROM downloads WHERE id = ?').get(id) as Raw | undefined;
      return r && downloadFromRaw(r);
    },
    list: (): DownloadRecord[] =>
      (this.db.prepare('SELECT * FROM downloads ORDER BY updated_at DESC').all() as Raw[]).map(downloadFromRaw),
    upsert: (d: DownloadRecord): void => {
      guard(`The download ${d.url}`, () =>
        this.db
          .prepare(
            `INSERT INTO downloads(id, url, dest, part_path, bytes_done, total, etag, last_modified,
                                   expected_sha256, sha256, state, error, updated_at)
             VALUES (@id, @url, '', @partPath, @bytesDone, @total, @etag, @lastModified,
                     @expectedSha256, @sha256, @state, @error, @updatedAt)
             ON CONFLICT(id) DO UPDATE SET url = excluded.url, part_path = excluded.part_path,
               bytes_done = excluded.bytes_done, total = excluded.total, etag = excluded.etag,
               last_modified = excluded.last_modified, expected_sha256 = excluded.expected_sha256,
               sha256 = excluded.sha256, state = excluded.state, error = excluded.error,
               updated_at = excluded.updated_at`,
          )
          .run({ ...d, error: d.error ? JSON.stringify(d.error) : null, updatedAt: now() }),
      );
    },
    /** The human label shown with a download's progress, and where its file ended up. */
    describe: (id: string, label: string, dest?: string): void => {
      this.db
        .prepare('UPDATE downloads SET label = ?, dest = coalesce(?, dest) WHERE id = ?')
        .run(label, dest ?? null, id);
    },
    label: (id: string): string =>
      (this.db.prepare('SELECT label FROM downloads WHERE id = ?').get(id) as { label: string } | undefined)?.label ??
      '',
    delete: (id: string): void => {
      this.db.prepare('DELETE FROM downloads WHERE id = ?').run(id);
    },
  };

  // ---- VMs, their shares and their published ports (tables.ts)
  readonly vms = vmTable(this);
  readonly shares = shareTable(this, this.vms);
  readonly ports = portTable(this, this.vms);
  readonly remoteShares = remoteShareTable(this, this.vms);

  /** The VM starts: its pending share and port changes now apply, and it needs no restart for them. */
  applyPending(vmName: string): void {
    this.tx(() => {
      this.shares.clearPending(vmName);
      this.ports.clearPending(vmName);
      this.remoteShares.clearPending(vmName);
    });
  }

  // ---- VMMs installed into bin/, with the digest checked before each start
  readonly vmms = {
    get: (name: string): { name: string; sha256: string; version: string; installedAt: string } | undefined => {
      const r = this.db.prepare('SELECT * FROM installed_vmms WHERE name = ?').get(name) as Raw | undefined;
      return (
        r && { name, sha256: r.sha256 as string, version: r.version as string, installedAt: r.installed_at as string }
      );
    },
    record: (name: string, sha256: string, version: string): void => {
      this.db
        .prepare(
          `INSERT INTO installed_vmms(name, sha256, version, installed_at) VALUES (?, ?, ?, ?)
           ON CONFLICT(name) DO UPDATE SET sha256 = excluded.sha256, version = excluded.version,
             installed_at = excluded.installed_at`,
        )
        .run(name, sha256, version, now());
    },
  };

  /** What was extracted from which archive (see images/installer.ts). */
  readonly extractions = {
    get: (fromSha256: string, member: string): string | undefined => {
      const r = this.db
        .prepare('SELECT sha256 FROM extractions WHERE from_sha256 = ? AND member = ?')
        .get(fromSha256, member) as { sha256: string } | undefined;
      return r?.sha256;
    },
    record: (fromSha256: string, member: string, sha256: string): void => {
      guard(`The extraction of ${member} from ${fromSha256}`, () =>
        this.db
          .prepare(
            `INSERT INTO extractions(from_sha256, member, sha256, extracted_at) VALUES (?, ?, ?, ?)
             ON CONFLICT(from_sha256, member) DO UPDATE SET sha256 = excluded.sha256,
               extracted_at = excluded.extracted_at`,
          )
          .run(fromSha256, member, sha256, now()),
      );
    },
  };

  // ---- event log
  readonly events = {
    append: (kind: string, subject: string | null, data?: unknown): number =>
      Number(
        this.db
          .prepare('INSERT INTO events(at, kind, subject, data) VALUES (?, ?, ?, ?)')
          .run(now(), kind, subject, data === undefined ? null : JSON.stringify(data)).lastInsertRowid,
      ),
    list: (subject?: string, limit = 100): EventRow[] =>
      (
        (subject === undefined
          ? this.db.prepare('SELECT * FROM events ORDER BY id DESC LIMIT ?').all(limit)
          : this.db
              .prepare('SELECT * FROM events WHERE subject = ? ORDER BY id DESC LIMIT ?')
              .all(subject, limit)) as Raw[]
      ).map((r) => ({
        id: r.id as number,
        at: r.at as string,
        kind: r.kind as string,
        subject: (r.subject as string | null) ?? null,
        data: r.data ? JSON.parse(r.data as string) : null,
      })),
  };
}
