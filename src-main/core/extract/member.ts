/**
 * Take one regular-file member (e.g. `arch/x86/boot/bzImage`) out of a
 * tarball. Every other member is skipped unread; the wanted one must be a
 * regular file no bigger than `maxBytes` (links, devices and directories are
 * refused). It lands in a temp dir beside `destFile` and is renamed into place,
 * so `destFile` is either the old file or the complete new one.
 */
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { OkError } from '@contract/errors';
import { normalizeMember, quote } from './paths';
import { formatBytes } from '@contract/format';
import { FILE_TYPES, describeType, memberError, tempBeside, untar } from './tar';

export interface ExtractMemberOptions {
  /** Largest member accepted; default 256 MiB. */
  maxBytes?: number;
}

export async function extractMember(
  archive: string,
  member: string,
  destFile: string,
  opts: ExtractMemberOptions = {},
): Promise<{ size: number }> {
  const want = normalizeMember(member);
  if (!want.ok || want.path === '') {
    throw new OkError(
      'INVALID_INPUT',
      `member to extract must be a relative path inside the archive, not ${quote(member)}`,
    );
  }
  const maxBytes = opts.maxBytes ?? 256 * 1024 * 1024;
  const listed: string[] = [];
  let count = 0;
  let size = -1;
  let problem: OkError | undefined;

  const tmp = await tempBeside(destFile);
  try {
    await untar(archive, tmp, (path, entry) => {
      count++;
      if (listed.length < 10) listed.push(path);
      const p = normalizeMember(path);
      if (problem || !p.ok || p.path !== want.path) return false;
      if (!FILE_TYPES.has(entry.type)) {
        problem = memberError(archive, path, `it is a ${describeType(entry.type)}, not a regular file`);
      } else if (entry.size > maxBytes) {
        problem = memberError(
          archive,
          path,
          `it is ${formatBytes(entry.size, { binary: true })}, over the ${formatBytes(maxBytes, { binary: true })} limit`,
        );
      }
      if (problem) return false;
      size = entry.size;
      return true;
    });
    if (problem) throw problem;
    if (size < 0) {
      const holds =
        count === 0
          ? 'it holds no members'
          : `it holds ${listed.map(quote).join(', ')}${count > listed.length ? ` and ${count - listed.length} more` : ''}`;
      throw new OkError('ARCHIVE', `${archive} has no member ${quote(member)}; ${holds}`);
    }
    await rename(join(tmp, want.path), destFile);
    return { size };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
