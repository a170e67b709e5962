/** Running node-tar with a deciding filter, and the errors both extractors share. */
import { mkdir, mkdtemp } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ReadEntry } from 'tar';
import { OkError } from '@contract/errors';
import { quote } from './paths';

/** Decides for one member: true to let node-tar write it, false to skip it. */
export type MemberFilter = (path: string, entry: ReadEntry) => boolean;

export const FILE_TYPES: ReadonlySet<string> = new Set(['File', 'OldFile', 'ContiguousFile']);

/**
 * Extract `archive` (tar, gzip detected) into `cwd`, asking `filter` about each
 * member. node-tar's own checks stay on and run in strict mode, so a damaged
 * archive fails instead of warning. Owners are never copied from the archive.
 */
export async function untar(archive: string, cwd: string, filter: MemberFilter): Promise<void> {
  // loaded here, not at import: a command that extracts nothing never loads node-tar
  const { extract } = await import('tar');
  try {
    await extract({
      file: archive,
      cwd,
      strict: true,
      preserveOwner: false,
      filter: (path, entry) => filter(path, entry as ReadEntry),
    });
  } catch (e) {
    if (e instanceof OkError) throw e;
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT' && err.path === archive) {
      throw new OkError('NOT_FOUND', `archive not found: ${archive}`, { cause: e });
    }
    if (err.code === 'ENOSPC') {
      throw new OkError('DISK_FULL', `no space left while extracting ${archive} into ${cwd}`, { cause: e });
    }
    throw new OkError('ARCHIVE', `${archive} could not be extracted: ${err.message}`, { cause: e });
  }
}

/** `ARCHIVE` error naming the member and the rule it broke. */
export function memberError(archive: string, member: string, rule: string): OkError {
  return new OkError('ARCHIVE', `${archive}: member ${quote(member)} rejected: ${rule}`);
}

/** A fresh temp dir beside `dest` (same filesystem, so a rename can finish the job). */
export async function tempBeside(dest: string): Promise<string> {
  await mkdir(dirname(dest), { recursive: true });
  return mkdtemp(join(dirname(dest), `.${basename(dest)}.partial-`));
}

/** "file", "symbolic link", … for messages. */
export function describeType(type: string): string {
  const names: Record<string, string> = {
    Directory: 'directory',
    GNUDumpDir: 'directory',
    Link: 'hard link',
    SymbolicLink: 'symbolic link',
    CharacterDevice: 'character device',
    BlockDevice: 'block device',
    FIFO: 'FIFO',
  };
  return names[type] ?? (FILE_TYPES.has(type) ? 'regular file' : type);
}
