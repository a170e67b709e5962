/**
 * The repository layer: the only place with SQL. Every SQLite failure that a
 * caller can cause (unique names, missing rows, constraints) becomes a typed
 * OkError with a message for people.
 */
import { OkError, type ErrorPayload } from '@contract/errors';
import type { DownloadRecord } from '@core/download/types';
import type { Settings, Share, Vm } from '@contract';
import { openDb, schemaVersion, type Db } from './db';

export { openDb, schemaVersion, SCHEMA_VERSION } from './db';
export type { Db } from './db';

const now = (): string => new Date().toISOString();

export const DEFAULT_SETTINGS: Settings = {
  backend: 'auto',
  accel: 'auto',
  bldyPath: null,
  githubApi: 'https://api.github.com',
  proxy: null,
};

/** Translate a SQLite error into a typed one; `what` names the thing, e.g. `VM "dev"`. */
export function mapSqliteError(e: unknown, what: string): never {
  const code = (e as { code?: string }).code ?? '';
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    throw new OkError('ALREADY_EXISTS', `${what} already exists.`, { cause: e });
  }
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
    throw new OkError('CONSTRAINT', `${what} refers to something that does not exist, or is still in use.`, {
      cause: e,
    });
  }
  if (code.startsWith('SQLITE_CONSTRAINT')) {
    throw new OkError('CONSTRAINT', `${what} has a value that is not allowed.`, { cause: e });
  }
  if (code === 'SQLITE_FULL') throw new OkError('DISK_FULL', `The disk is full while saving ${what}.`, { cause: e });
  if (code === 'SQLITE_BUSY') {
    throw new OkError('CONFLICT', `The database is busy (another okLinux process holds it) while saving ${what}.`, {
      cause: e,
    });
  }
  throw e;
}

function guard<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof OkError) throw e;
    return mapSqliteError(e, what);
  }
}

// ---------------------------------------------------------------- rows

export interface ArtifactRow {
  sha256: string;
  size: number;
  path: string;
  origin: string;
  createdAt: string;
}
export interface ImageRow {
  id: number;
  ref: string;
  kind: 'oklinux-release' | 'bundle' | 'local';
  version: string;
  cmdline: string;
  installedAt: string;
  artifacts: { role: 'kernel' | 'initrd' | 'rootfs'; sha256: string; size: number; path: string }[];
}
export interface SourceRow {
  id: number;
  kind: 'github' | 'manifest';
  location: string;
  body: string | null;
  addedAt: string;
}
export interface VmRow extends Omit<Vm, 'pendingRestart' | 'managedRoot'> {
  id: number;
  restartNeeded: boolean;
  supervisorPid: number | null;
  controlSocket: string | null;
  argv: string[] | null;
  createdAt: string;
}
export interface ShareRow extends Share {
  id: number;
  vmId: number;
}
export interface EventRow {
  id: number;
  at: string;
  kind: string;
  subject: string | null;
  data: unknown;
}

type Raw = Record<string, unknown>;

function vmFromRaw(r: Raw): VmRow {
  return {
    id: r.id as number,
    name: r.name as string,
    image: r.image_ref as string,
    cpus: r.cpus as number,
    memoryMiB: r.memory_mib as number,
    append: r.extra_cmdline as string,
    backend: r.backend as VmRow['backend'],
    accel: r.accel as VmRow['accel'],
    state: r.state as VmRow['state'],
    pid: (r.pid as number | null) ?? null,
    supervisorPid: (r.supervisor_pid as number | null) ?? null,
    controlSocket: (r.control_socket as string | null) ?? null,
    argv: r.argv ? (JSON.parse(r.argv as string) as string[]) : null,
    startedAt: (r.started_at as string | null) ?? null,
    exitCode: (r.exit_code as number | null) ?? null,
    exitSignal: (r.exit_signal as string | null) ?? null,
    lastError: (r.last_error as string | null) ?? null,
    rootDir: (r.root_dir as string | null) ?? null,
    restartNeeded: r.restart_needed === 1,
    createdAt: r.created_at as string,
  };
}

function sourceFromRaw(r: Raw): SourceRow {
  return {
    id: r.id as number,
    kind: r.kind as SourceRow['kind'],
    location: r.location as string,
    body: (r.body as string | null) ?? null,
    addedAt: r.added_at as string,
  };
}

function artifactFromRaw(r: Raw): ArtifactRow {
  return {
    sha256: r.sha256 as string,
    size: r.size as number,
    path: r.path as string,
    origin: r.origin as string,
    createdAt: r.created_at as string,
  };
}

function shareFromRaw(r: Raw): ShareRow {
  return {
    id: r.id as number,
    vmId: r.vm_id as number,
    vm: r.vm_name as string,
    tag: r.tag as string,
    hostPath: r.host_path as string,
    readOnly: r.read_only === 1,
    guestPath: r.guest_path as string,
    pending: r.pending === 1,
  };
}

function downloadFromRaw(r: Raw): DownloadRecord {
  return {
    id: r.id as string,
    url: r.url as string,
    partPath: r.part_path as string,
    bytesDone: r.bytes_done as number,
    total: (r.total as number | null) ?? null,
    etag: (r.etag as string | null) ?? null,
    lastModified: (r.last_modified as string | null) ?? null,
    expectedSha256: (r.expected_sha256 as string | null) ?? null,
    sha256: (r.sha256 as string | null) ?? null,
    state: r.state as DownloadRecord['state'],
    error: r.error ? (JSON.parse(r.error as string) as ErrorPayload) : null,
  };
}

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
      img: { ref: string; kind: ImageRow['kind']; version: string; cmdline: string },
      artifacts: { role: 'kernel' | 'initrd' | 'rootfs'; sha256: string }[],
    ): ImageRow =>
      guard(`The image "${img.ref}"`, () =>
        this.tx(() => {
          this.db.prepare('DELETE FROM images WHERE ref = ?').run(img.ref);
          const info = this.db
            .prepare('INSERT INTO images(ref, kind, version, cmdline, installed_at) VALUES (?, ?, ?, ?, ?)')
            .run(img.ref, img.kind, img.version, img.cmdline, now());
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

  // ---- VMs
  readonly vms = {
    list: (): VmRow[] => (this.db.prepare('SELECT * FROM vms ORDER BY name').all() as Raw[]).map(vmFromRaw),
    find: (name: string): VmRow | undefined => {
      const r = this.db.prepare('SELECT * FROM vms WHERE name = ?').get(name) as Raw | undefined;
      return r && vmFromRaw(r);
    },
    get: (name: string): VmRow => {
      const vm = this.vms.find(name);
      if (!vm) throw new OkError('NOT_FOUND', `There is no VM named "${name}". See "oklinux ls".`);
      return vm;
    },
    create: (v: {
      name: string;
      image: string;
      cpus: number;
      memoryMiB: number;
      append: string;
      backend: VmRow['backend'];
      accel: VmRow['accel'];
      rootDir: string | null;
    }): VmRow =>
      guard(`A VM named "${v.name}"`, () => {
        this.db
          .prepare(
            `INSERT INTO vms(name, image_ref, cpus, memory_mib, extra_cmdline, backend, accel, root_dir, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(v.name, v.image, v.cpus, v.memoryMiB, v.append, v.backend, v.accel, v.rootDir, now());
        return this.vms.get(v.name);
      }),
    /** Update runtime columns. */
    update: (
      name: string,
      patch: Partial<
        Pick<
          VmRow,
          | 'state'
          | 'pid'
          | 'supervisorPid'
          | 'controlSocket'
          | 'argv'
          | 'startedAt'
          | 'exitCode'
          | 'exitSignal'
          | 'lastError'
          | 'rootDir'
          | 'image'
          | 'restartNeeded'
        >
      >,
    ): VmRow => {
      const cols: Record<string, string> = {
        state: 'state',
        pid: 'pid',
        supervisorPid: 'supervisor_pid',
        controlSocket: 'control_socket',
        argv: 'argv',
        startedAt: 'started_at',
        exitCode: 'exit_code',
        exitSignal: 'exit_signal',
        lastError: 'last_error',
        rootDir: 'root_dir',
        image: 'image_ref',
        restartNeeded: 'restart_needed',
      };
      const sets: string[] = [];
      const vals: unknown[] = [];
      for (const [k, v] of Object.entries(patch)) {
        if (v === undefined) continue;
        sets.push(`${cols[k]} = ?`);
        vals.push(k === 'argv' && v !== null ? JSON.stringify(v) : typeof v === 'boolean' ? Number(v) : v);
      }
      if (sets.length) {
        const info = guard(`The VM "${name}"`, () =>
          this.db.prepare(`UPDATE vms SET ${sets.join(', ')} WHERE name = ?`).run(...vals, name),
        );
        if (info.changes === 0) this.vms.get(name);
      }
      return this.vms.get(name);
    },
    /**
     * Atomically move a VM from one of `from` to `to`; returns false when its
     * state was not one of `from` (someone else won the race).
     */
    transition: (name: string, from: VmRow['state'][], to: VmRow['state']): boolean => {
      const marks = from.map(() => '?').join(', ');
      const info = this.db
        .prepare(`UPDATE vms SET state = ? WHERE name = ? AND state IN (${marks})`)
        .run(to, name, ...from);
      if (info.changes === 0) this.vms.get(name);
      return info.changes === 1;
    },
    remove: (name: string): void => {
      const info = this.db.prepare('DELETE FROM vms WHERE name = ?').run(name);
      if (info.changes === 0) this.vms.get(name);
    },
  };

  // ---- shares
  readonly shares = {
    list: (vmName: string): ShareRow[] => {
      this.vms.get(vmName);
      return (
        this.db
          .prepare(
            `SELECT s.*, v.name AS vm_name FROM shares s JOIN vms v ON v.id = s.vm_id WHERE v.name = ? ORDER BY s.id`,
          )
          .all(vmName) as Raw[]
      ).map(shareFromRaw);
    },
    get: (vmName: string, tag: string): ShareRow => {
      const s = this.shares.list(vmName).find((x) => x.tag === tag);
      if (!s)
        throw new OkError(
          'NOT_FOUND',
          `The VM "${vmName}" has no share tagged "${tag}". See "oklinux share ls ${vmName}".`,
        );
      return s;
    },
    add: (
      vmName: string,
      s: { tag: string; hostPath: string; readOnly: boolean; guestPath: string; pending: boolean },
    ): ShareRow => {
      const vm = this.vms.get(vmName);
      try {
        this.db
          .prepare(
            'INSERT INTO shares(vm_id, host_path, tag, read_only, guest_path, pending) VALUES (?, ?, ?, ?, ?, ?)',
          )
          .run(vm.id, s.hostPath, s.tag, s.readOnly ? 1 : 0, s.guestPath, s.pending ? 1 : 0);
      } catch (e) {
        const msg = (e as Error).message;
        if (msg.includes('shares.host_path')) {
          throw new OkError('ALREADY_EXISTS', `${s.hostPath} is already shared with the VM "${vmName}".`, { cause: e });
        }
        if (msg.includes('shares.tag')) {
          throw new OkError(
            'ALREADY_EXISTS',
            `The VM "${vmName}" already has a share tagged "${s.tag}". Pick another tag.`,
            {
              cause: e,
            },
          );
        }
        mapSqliteError(e, `The share ${s.tag}`);
      }
      return this.shares.get(vmName, s.tag);
    },
    update: (vmName: string, tag: string, patch: { readOnly?: boolean; pending?: boolean }): ShareRow => {
      const s = this.shares.get(vmName, tag);
      this.db
        .prepare('UPDATE shares SET read_only = ?, pending = ? WHERE id = ?')
        .run((patch.readOnly ?? s.readOnly) ? 1 : 0, (patch.pending ?? s.pending) ? 1 : 0, s.id);
      return this.shares.get(vmName, tag);
    },
    remove: (vmName: string, tag: string): void => {
      const s = this.shares.get(vmName, tag);
      this.db.prepare('DELETE FROM shares WHERE id = ?').run(s.id);
    },
    /** Everything now applies: called when a VM starts. */
    clearPending: (vmName: string): void => {
      const vm = this.vms.get(vmName);
      this.tx(() => {
        this.db.prepare('UPDATE shares SET pending = 0 WHERE vm_id = ?').run(vm.id);
        this.db.prepare('UPDATE vms SET restart_needed = 0 WHERE id = ?').run(vm.id);
      });
    },
  };

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
