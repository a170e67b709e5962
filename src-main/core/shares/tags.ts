/**
 * 9p mount tags. A tag names a share inside one VM: the guest mounts it by tag.
 * QEMU caps tags at 31 bytes and crosvm splits `--shared-dir` on ':', so a tag is
 * 1-31 bytes of [A-Za-z0-9_-], which is also safe in a kernel parameter and a path.
 */
import path from 'node:path';
import { OkError } from '@contract/errors';

/** The tag of the VM's root filesystem share; never given to a folder share. */
export const ROOT_TAG = 'oklinux-root';

export const MAX_TAG_BYTES = 31;

const TAG_RE = /^[A-Za-z0-9_-]+$/;

/** Throws INVALID_INPUT unless `tag` has the tag syntax (the root tag included). */
export function checkTagSyntax(tag: string): void {
  if (tag.length === 0)
    throw new OkError('INVALID_INPUT', 'a share tag cannot be empty: give 1-31 letters, digits, "-" or "_"');
  if (!TAG_RE.test(tag)) {
    throw new OkError(
      'INVALID_INPUT',
      `share tag "${tag}" has characters other than letters, digits, "-" and "_"; pick a tag such as "${sanitize(tag) || 'share'}"`,
    );
  }
  if (tag.length > MAX_TAG_BYTES) {
    throw new OkError(
      'INVALID_INPUT',
      `share tag "${tag}" is ${tag.length} bytes; 9p tags are at most ${MAX_TAG_BYTES} bytes: shorten it`,
    );
  }
}

/** Validates a tag given by the user for a folder share: tag syntax, and not the reserved root tag. */
export function validateTag(tag: string): void {
  checkTagSyntax(tag);
  if (tag === ROOT_TAG) {
    throw new OkError(
      'INVALID_INPUT',
      `share tag "${ROOT_TAG}" is reserved for the VM's root filesystem; pick another tag`,
    );
  }
}

/** Folds accents to ASCII, turns runs of other characters into "_", trims "_" and "-" at the ends. */
function sanitize(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9_-]+/g, '_')
    .replace(/^[_-]+|[_-]+$/g, '');
}

/**
 * A tag for a new share of `folderPath`: made from the folder's basename, unique among
 * `existingTags` (suffix -2, -3, …), never empty (falls back to "share"), never `ROOT_TAG`,
 * at most 31 bytes.
 */
export function tagFor(folderPath: string, existingTags: Iterable<string>): string {
  const taken = new Set(existingTags);
  taken.add(ROOT_TAG);
  const base =
    sanitize(path.basename(folderPath))
      .slice(0, MAX_TAG_BYTES)
      .replace(/[_-]+$/, '') || 'share';
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) {
    const suffix = `-${n}`;
    const candidate = base.slice(0, MAX_TAG_BYTES - suffix.length).replace(/[_-]+$/, '') + suffix;
    if (!taken.has(candidate)) return candidate;
  }
}
