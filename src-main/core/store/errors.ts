/** SQLite failures a caller can cause, as typed OkErrors with messages for people. */
import { OkError } from '@contract/errors';

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

export function guard<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof OkError) throw e;
    return mapSqliteError(e, what);
  }
}
