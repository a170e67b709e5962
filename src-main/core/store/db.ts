import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { OkError } from '@contract/errors';
import { createPrivateFile, diskFullError, makeDirs } from '@core/datadir';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations';

export type Db = Database.Database;

/**
 * Open (creating if needed) the database at `file`, with WAL, foreign keys and a
 * busy timeout, and bring its schema up to date in one transaction. A new database file
 * is created 0600 first: SQLite gives its -wal and -shm files the database's mode.
 */
export function openDb(file: string, migrations: readonly string[] = MIGRATIONS): Db {
  const dir = path.dirname(file);
  makeDirs(dir);
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.R_OK);
    createPrivateFile(file);
  } catch (e) {
    const full = diskFullError(e, dir);
    if (full) throw full;
    throw new OkError(
      'DATA_DIR',
      `The data directory ${dir} cannot be used (${(e as NodeJS.ErrnoException).code ?? String(e)}). ` +
        'Make it writable by this user, or point OKLINUX_HOME at another directory.',
      { cause: e },
    );
  }
  let db: Db;
  try {
    db = new Database(file);
    db.pragma('busy_timeout = 5000'); // first: the pragmas below may wait for another process
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
  } catch (e) {
    throw dbFileError(file, e);
  }
  try {
    migrate(db, file, migrations);
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

function dbFileError(file: string, e: unknown): OkError {
  const full = diskFullError(e, path.dirname(file));
  if (full) return full;
  const code = (e as { code?: string }).code ?? '';
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    return new OkError(
      'DATA_DIR',
      `The database ${file} is corrupt or not an okLinux database. Move it aside (your downloads in the ` +
        'store/ folder are kept) and start again.',
      { cause: e },
    );
  }
  if (code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY' || code === 'SQLITE_PERM') {
    return new OkError(
      'DATA_DIR',
      `The database ${file} cannot be opened for writing (${code}). Check its permissions.`,
      { cause: e },
    );
  }
  return new OkError(
    'DATA_DIR',
    `The database ${file} cannot be opened: ${(e as Error).message}${code ? ` (${code})` : ''}`,
    { cause: e },
  );
}

function migrate(db: Db, file: string, migrations: readonly string[]): void {
  let current: number;
  try {
    current = db.pragma('user_version', { simple: true }) as number;
  } catch (e) {
    throw dbFileError(file, e);
  }
  if (current > migrations.length) {
    throw new OkError(
      'SCHEMA_TOO_NEW',
      `The database ${file} has schema version ${current}, but this okLinux Desktop knows only up to ` +
        `${migrations.length}. It was written by a newer version: update okLinux Desktop. It will not be ` +
        'migrated down.',
    );
  }
  if (current === migrations.length) return;
  const run = db.transaction(() => {
    // another process may have migrated since the read above: look again under the write lock
    const from = db.pragma('user_version', { simple: true }) as number;
    for (let v = from; v < migrations.length; v++) db.exec(migrations[v]!);
    if (from < migrations.length) db.pragma(`user_version = ${migrations.length}`);
  });
  try {
    run.immediate();
  } catch (e) {
    throw dbFileError(file, e);
  }
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

export { SCHEMA_VERSION };
