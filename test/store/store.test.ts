import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { Store, openDb, SCHEMA_VERSION } from '@core/store';
import { MIGRATIONS } from '@core/store/migrations';
import { OkError } from '@contract/errors';
import { tmpDir } from '../helpers/tmp';

let t: ReturnType<typeof tmpDir>;
beforeEach(() => {
  t = tmpDir();
});
afterEach(() => t.cleanup());

const vm = (name: string) => ({
  name,
  image: 'latest',
  cpus: 2,
  memoryMiB: 1024,
  append: '',
  backend: 'auto' as const,
  accel: 'auto' as const,
  net: 'nat' as const,
  rootDir: null,
});

function expectOkError(fn: () => unknown, code: string, includes?: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(OkError);
    expect((e as OkError).code).toBe(code);
    if (includes) expect((e as OkError).message).toContain(includes);
    expect((e as OkError).message).not.toMatch(/SQLITE_|constraint failed/);
    return;
  }
  throw new Error(`expected an OkError ${code}`);
}

describe('migrations', () => {
  it('creates the schema from empty, with WAL, foreign keys and a busy timeout', () => {
    const file = path.join(t.dir, 'oklinux.db');
    const db = openDb(file);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[])
      .map((r) => r.name)
      .sort();
    expect(tables).toEqual(
      [
        'artifacts',
        'catalog_sources',
        'downloads',
        'events',
        'extractions',
        'http_cache',
        'image_artifacts',
        'images',
        'installed_vmms',
        'ports',
        'remote_shares',
        'settings',
        'shares',
        'vms',
      ].sort(),
    );
    db.close();
  });

  it('upgrades from every earlier schema version, keeping data', () => {
    for (let from = 1; from <= MIGRATIONS.length; from++) {
      const file = path.join(t.dir, `v${from}.db`);
      const old = openDb(file, MIGRATIONS.slice(0, from));
      old.prepare("INSERT INTO settings(key, value) VALUES ('accel', '\"tcg\"')").run();
      old.close();
      const s = new Store(file);
      expect(s.schemaVersion).toBe(SCHEMA_VERSION);
      expect(s.settings.get().accel).toBe('tcg');
      s.close();
    }
  });

  it('lets several processes open a new database at once (one migrates, the others wait)', async () => {
    const file = path.join(t.dir, 'race.db');
    const storeModule = path.resolve('src-main/core/store/index.ts');
    const script = path.join(t.dir, 'opener.ts');
    fs.writeFileSync(
      script,
      `import { Store } from ${JSON.stringify(storeModule)};\nnew Store(${JSON.stringify(file)}).close();\n`,
    );
    const codes = await Promise.all(
      [1, 2, 3, 4].map(
        () =>
          new Promise<number | null>((resolve) => {
            const c = spawn(process.execPath, ['--import', 'tsx', script], {
              stdio: ['ignore', 'ignore', 'inherit'],
              env: { ...process.env, TSX_TSCONFIG_PATH: path.resolve('tsconfig.json') },
            });
            c.on('close', resolve);
          }),
      ),
    );
    expect(codes).toEqual([0, 0, 0, 0]);
    const s = new Store(file);
    expect(s.schemaVersion).toBe(SCHEMA_VERSION);
    s.close();
  });

  it('migration 4 gives VMs NAT networking, except those set to bldy (no user-mode networking there)', () => {
    const file = path.join(t.dir, 'v3.db');
    const old = openDb(file, MIGRATIONS.slice(0, 3));
    const insert = old.prepare(
      `INSERT INTO vms(name, image_ref, cpus, memory_mib, backend, accel, created_at) VALUES (?, 'k', 1, 64, ?, 'auto', 'now')`,
    );
    for (const [name, backend] of [
      ['a', 'auto'],
      ['b', 'bldy'],
      ['q', 'qemu'],
    ])
      insert.run(name, backend);
    old.close();
    const s = new Store(file);
    expect(s.vms.list().map((v) => [v.name, v.net])).toEqual([
      ['a', 'nat'],
      ['b', 'none'],
      ['q', 'nat'],
    ]);
    expect(() => s.db.prepare("UPDATE vms SET net = 'bridge' WHERE name = 'a'").run()).toThrow(/CHECK constraint/);
    s.close();
  });

  it('is idempotent on reopen', () => {
    const file = path.join(t.dir, 'oklinux.db');
    const a = new Store(file);
    a.vms.create(vm('dev'));
    a.close();
    const b = new Store(file);
    expect(b.schemaVersion).toBe(SCHEMA_VERSION);
    expect(b.vms.list().map((v) => v.name)).toEqual(['dev']);
    b.close();
  });

  it('runs a failing migration in one transaction: nothing half-applied', () => {
    const file = path.join(t.dir, 'oklinux.db');
    expect(() => openDb(file, [...MIGRATIONS, 'CREATE TABLE extra(x); CREATE TABLE nope('])).toThrow(OkError);
    const db = new Database(file);
    expect(db.pragma('user_version', { simple: true })).toBe(0);
    expect(db.prepare("SELECT count(*) n FROM sqlite_master WHERE name IN ('extra', 'vms')").get()).toEqual({ n: 0 });
    db.close();
  });

  it('refuses a database from a newer schema, without touching it', () => {
    const file = path.join(t.dir, 'oklinux.db');
    new Store(file).close();
    const raw = new Database(file);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 5}`);
    raw.close();
    expectOkError(() => new Store(file), 'SCHEMA_TOO_NEW', 'newer version');
    const again = new Database(file);
    expect(again.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION + 5);
    again.close();
  });

  it('names the path of a corrupt database', () => {
    const file = path.join(t.dir, 'oklinux.db');
    fs.writeFileSync(file, Buffer.alloc(8192, 0x41));
    expectOkError(() => new Store(file), 'DATA_DIR', file);
  });

  it('names the path of an unusable data directory', () => {
    const blocker = path.join(t.dir, 'a-file');
    fs.writeFileSync(blocker, 'x');
    const file = path.join(blocker, 'sub', 'oklinux.db');
    expectOkError(() => new Store(file), 'DATA_DIR', path.join(blocker, 'sub'));
  });
});

describe('repositories', () => {
  let s: Store;
  beforeEach(() => {
    s = new Store(path.join(t.dir, 'oklinux.db'));
  });
  afterEach(() => s.close());

  it('refuses a duplicate VM name with a typed error', () => {
    s.vms.create(vm('dev'));
    expectOkError(() => s.vms.create(vm('dev')), 'ALREADY_EXISTS', 'A VM named "dev" already exists');
  });

  it('reports a missing row as NOT_FOUND', () => {
    expectOkError(() => s.vms.get('ghost'), 'NOT_FOUND', '"ghost"');
    expectOkError(() => s.shares.list('ghost'), 'NOT_FOUND');
    expectOkError(() => s.images.get('nope'), 'NOT_FOUND', 'oklinux pull nope');
    expectOkError(() => s.sources.remove(42), 'NOT_FOUND');
  });

  it('maps a violated constraint to CONSTRAINT', () => {
    expectOkError(() => s.vms.create({ ...vm('x'), cpus: 0 }), 'CONSTRAINT');
    expectOkError(
      () =>
        s.images.install({ ref: 'r', kind: 'bundle', version: '1', cmdline: '' }, [
          { role: 'kernel', sha256: 'a'.repeat(64) },
        ]),
      'CONSTRAINT',
    );
    expect(s.images.find('r')).toBeUndefined();
  });

  it('keeps share tags and host paths unique per VM, and cascades on VM removal', () => {
    s.vms.create(vm('a'));
    s.vms.create(vm('b'));
    const share = { tag: 'src', hostPath: '/srv/src', readOnly: false, guestPath: '/mnt/src', pending: false };
    s.shares.add('a', share);
    s.shares.add('b', share);
    expectOkError(() => s.shares.add('a', { ...share, hostPath: '/other' }), 'ALREADY_EXISTS', 'tagged "src"');
    expectOkError(() => s.shares.add('a', { ...share, tag: 'x' }), 'ALREADY_EXISTS', '/srv/src is already shared');
    s.vms.remove('a');
    expect(s.db.prepare('SELECT count(*) n FROM shares').get()).toEqual({ n: 1 });
  });

  it('moves VM state atomically: only one racer wins', () => {
    s.vms.create(vm('dev'));
    expect(s.vms.transition('dev', ['stopped', 'crashed'], 'starting')).toBe(true);
    expect(s.vms.transition('dev', ['stopped', 'crashed'], 'starting')).toBe(false);
    expect(s.vms.get('dev').state).toBe('starting');
  });

  it('stores settings over defaults, and images with artifacts', () => {
    expect(s.settings.get().githubApi).toBe('https://api.github.com');
    expect(s.settings.set({ accel: 'tcg', bldyPath: '/opt/bldy' })).toMatchObject({
      accel: 'tcg',
      bldyPath: '/opt/bldy',
    });
    const sha = 'b'.repeat(64);
    s.artifacts.put({ sha256: sha, size: 10, path: '/x', origin: 'http://h/k' });
    const img = s.images.install(
      { ref: 'kernel-6.6-abc', kind: 'oklinux-release', version: '6.6', cmdline: 'console=ttyS0' },
      [{ role: 'kernel', sha256: sha }],
    );
    expect(img.artifacts).toEqual([{ role: 'kernel', sha256: sha, size: 10, path: '/x' }]);
    expect(s.artifacts.unreferenced()).toEqual([]);
    s.images.remove('kernel-6.6-abc');
    expect(s.artifacts.unreferenced().map((a) => a.sha256)).toEqual([sha]);
  });
});

describe('durability', () => {
  it('survives kill -9 mid-write: integrity ok and every acknowledged row present', async () => {
    const file = path.join(t.dir, 'oklinux.db');
    new Store(file).close();
    const script = path.join(t.dir, 'writer.ts');
    const storeModule = path.resolve('src-main/core/store/index.ts');
    fs.writeFileSync(
      script,
      `import { Store } from ${JSON.stringify(storeModule)};
       const s = new Store(${JSON.stringify(file)});
       for (let i = 0; ; i++) {
         s.events.append('tick', 'writer', { i, pad: 'x'.repeat(2000) });
         process.stdout.write(i + '\\n');
       }`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, TSX_TSCONFIG_PATH: path.resolve('tsconfig.json') },
    });
    let acked = -1;
    let buf = '';
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const l of lines) acked = Number(l);
        if (acked >= 2000) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('exit', () => resolve());
    });
    await new Promise((r) => child.once('close', r));
    expect(child.signalCode).toBe('SIGKILL');
    const s = new Store(file);
    expect(s.db.pragma('integrity_check', { simple: true })).toBe('ok');
    const rows = s.db
      .prepare("SELECT json_extract(data, '$.i') AS i FROM events WHERE kind = 'tick' ORDER BY id")
      .all() as { i: number }[];
    expect(rows.length).toBeGreaterThanOrEqual(acked + 1);
    rows.slice(0, acked + 1).forEach((r, idx) => expect(r.i).toBe(idx));
    s.close();
  });
});
