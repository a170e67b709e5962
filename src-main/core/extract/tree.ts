/**
 * Unpack a rootfs tarball into a directory, safely.
 *
 * Policy (each refusal is an `ARCHIVE` error naming the member and the rule;
 * nothing of a refused archive is left behind):
 * - Member paths must be relative with no `..` component. They are refused,
 *   not rewritten, because a rootfs that needs rewriting is broken anyway.
 * - No member may be written through a symlink, or replace one, and no symlink
 *   may replace an earlier member. Symlinks are not created while the archive
 *   is being written at all: they are collected and made at the end, so the
 *   classic "symlink, then a file through it" trick finds no symlink to follow.
 * - Symlink targets are kept verbatim (Alpine's `/bin/sh -> /bin/busybox` stays
 *   absolute) and must stay inside the root as the guest sees it: an absolute
 *   target is read relative to the root (as in a chroot), a relative one
 *   relative to the link's directory, and neither may climb above the root
 *   with `..`. On the host an absolute target still points at the host's file
 *   of that name, so host code must never follow symlinks inside a rootfs
 *   (use lstat; the 9p servers resolve nothing on the guest's behalf).
 * - Hard links must name an earlier regular file of the archive, by a relative
 *   path with no `..`.
 * - Character/block devices and FIFOs are skipped and reported, not refused:
 *   an unprivileged process cannot create them, trees made by debootstrap or
 *   older Gentoo stage3 tarballs carry /dev nodes (refusing would break them),
 *   and the okLinux kernel mounts devtmpfs on /dev, which provides them in the
 *   guest. The skipped members are returned so a caller can log them.
 * - A file over `maxMemberBytes`, or files adding up to over `maxTotalBytes`,
 *   are refused before any of their bytes are written (sizes come from the
 *   headers, which node-tar enforces).
 * - Modes are kept exactly for files (setuid/setgid/sticky included, no umask);
 *   directories also get u+rwx so the owner can always update or delete the
 *   tree. Owners are not copied (the files belong to the user running this).
 */
import { chmod, lstat, mkdir, readdir, rename, rm, symlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { OkError } from '@contract/errors';
import { normalizeMember, quote } from './paths';
import { formatBytes } from '@contract/format';
import { FILE_TYPES, describeType, memberError, tempBeside, untar } from './tar';

export interface ExtractTreeOptions {
  /** Largest single file; default 2 GiB. */
  maxMemberBytes?: number;
  /** Largest sum of file sizes; default 8 GiB. */
  maxTotalBytes?: number;
}

export interface ExtractTreeResult {
  /** Regular files, hard links, directories and symlinks made. */
  entries: number;
  /** Bytes of regular-file data written. */
  bytes: number;
  /** Devices and FIFOs left out (see the policy above). */
  skipped: Array<{ path: string; type: string }>;
}

const SKIPPED_TYPES = new Set(['CharacterDevice', 'BlockDevice', 'FIFO']);

/**
 * Unpack `archive` into `destDir`, which must not exist or be an empty
 * directory (else `ALREADY_EXISTS`). Work happens in a temp dir beside it that
 * is renamed into place at the end.
 */
export async function extractTree(
  archive: string,
  destDir: string,
  opts: ExtractTreeOptions = {},
): Promise<ExtractTreeResult> {
  await assertFree(destDir);
  const maxMember = opts.maxMemberBytes ?? 2 * 1024 ** 3;
  const maxTotal = opts.maxTotalBytes ?? 8 * 1024 ** 3;

  const symlinks = new Map<string, string>(); // path -> target, made at the end
  const nonLinks = new Set<string>(); // every non-symlink member and its parents
  const regular = new Set<string>(); // files that a hard link may name
  const modes: Array<{ path: string; mode: number }> = [];
  const skipped: ExtractTreeResult['skipped'] = [];
  let rootMode = 0o755;
  let bytes = 0;
  let entries = 0;
  let problem: OkError | undefined;

  const decide = (raw: string, type: string, size: number, mode: number | undefined, link?: string) => {
    const fail = (rule: string) => {
      problem = memberError(archive, raw, rule);
      return false;
    };
    const p = normalizeMember(raw);
    if (!p.ok) return fail(p.rule);
    const path = p.path;
    if (SKIPPED_TYPES.has(type)) {
      skipped.push({ path, type });
      return false;
    }
    if (path === '') {
      if (type !== 'Directory') return fail(`a ${describeType(type)} cannot replace the archive root`);
      if (mode !== undefined) rootMode = (mode & 0o7777) | 0o700;
      return true;
    }
    const parts = path.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (i < parts.length && symlinks.has(prefix)) {
        return fail(`its path goes through the symbolic link ${quote(prefix)}`);
      }
      if (i === parts.length && symlinks.has(prefix) && type !== 'SymbolicLink') {
        return fail(`it would replace the symbolic link ${quote(prefix)}`);
      }
    }
    switch (type) {
      case 'Directory':
      case 'GNUDumpDir':
        modes.push({ path, mode: ((mode ?? 0o755) & 0o7777) | 0o700 });
        break;
      case 'Link': {
        const target = normalizeMember(link ?? '');
        if (!target.ok) return fail(`hard link target ${quote(link ?? '')}: ${target.rule}`);
        if (!regular.has(target.path)) {
          return fail(`hard link target ${quote(link ?? '')} is not an earlier regular file of the archive`);
        }
        regular.add(path);
        break;
      }
      case 'SymbolicLink': {
        if (nonLinks.has(path)) return fail('a symbolic link would replace an earlier member');
        const rule = symlinkRule(path, link ?? '');
        if (rule) return fail(rule);
        symlinks.set(path, link!);
        markParents(nonLinks, parts);
        return false; // made after the archive is written
      }
      default: {
        if (!FILE_TYPES.has(type)) return fail(`unsupported member type ${type}`);
        if (size > maxMember) {
          return fail(
            `it is ${formatBytes(size, { binary: true })}, over the ${formatBytes(maxMember, { binary: true })} limit per file`,
          );
        }
        bytes += size;
        if (bytes > maxTotal) {
          return fail(
            `the files reach ${formatBytes(bytes, { binary: true })} here, over the ${formatBytes(maxTotal, { binary: true })} limit`,
          );
        }
        regular.add(path);
        modes.push({ path, mode: (mode ?? 0o644) & 0o7777 });
      }
    }
    nonLinks.add(path);
    markParents(nonLinks, parts);
    entries++;
    return true;
  };

  const tmp = await tempBeside(destDir);
  try {
    await untar(archive, tmp, (path, entry) => {
      if (problem) return false;
      return decide(path, entry.type, entry.size, entry.mode, entry.linkpath);
    });
    if (problem) throw problem;
    // Modes first, while the tree holds no symlink for chmod to follow.
    for (const { path, mode } of modes) await chmod(join(tmp, path), mode);
    await chmod(tmp, rootMode);
    for (const [path, target] of symlinks) {
      try {
        const parent = await realDirs(tmp, path.split('/').slice(0, -1));
        await symlink(target, join(parent, basename(path)));
      } catch (e) {
        throw memberError(archive, path, `cannot create the symbolic link: ${(e as Error).message}`);
      }
      entries++;
    }
    await rename(tmp, destDir);
    return { entries, bytes, skipped };
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Why a symlink at `path` to `target` is refused, or undefined when it stays inside the root. */
function symlinkRule(path: string, target: string): string | undefined {
  if (target === '') return 'symbolic link with an empty target';
  const stack = target.startsWith('/') ? [] : path.split('/').slice(0, -1);
  for (const c of target.split('/')) {
    if (c === '' || c === '.') continue;
    if (c !== '..') stack.push(c);
    else if (stack.pop() === undefined) {
      return `symbolic link target ${quote(target)} points outside the root`;
    }
  }
  return undefined;
}

/**
 * Walk (making what is missing) the directories `parts` under `root`, refusing
 * anything that is not a real directory, so that a symlink made earlier in
 * this loop is never followed (which matters on case-insensitive filesystems,
 * where `BIN/x` would go through a symlink `bin`).
 */
async function realDirs(root: string, parts: string[]): Promise<string> {
  let at = root;
  for (const c of parts) {
    at = join(at, c);
    const st = await lstat(at).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
      return undefined;
    });
    if (!st) await mkdir(at);
    else if (!st.isDirectory()) throw new Error(`${at} is not a directory`);
  }
  return at;
}

function markParents(set: Set<string>, parts: string[]): void {
  for (let i = 1; i < parts.length; i++) set.add(parts.slice(0, i).join('/'));
}

async function assertFree(destDir: string): Promise<void> {
  try {
    const names = await readdir(destDir);
    if (names.length > 0) {
      throw new OkError('ALREADY_EXISTS', `${destDir} already exists and is not empty; remove it first`);
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') throw new OkError('ALREADY_EXISTS', `${destDir} already exists and is a file`);
    throw e;
  }
}
