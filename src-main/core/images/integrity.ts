/**
 * Files whose content is pinned by a SHA-256 (kernels, initrds and rootfs
 * tarballs in the content store, the bldy installed in bin/) are hashed again
 * whenever they are used, not only when they were installed: anyone who can
 * write the data directory (a guest given a share that contains it, another
 * process of the user) could have swapped them since.
 *
 * The check is made as late as the code allows (the engine before it writes a
 * launch plan, the supervisor again right before it spawns the VMM); the VMM
 * then opens the same path, so a swap in the few milliseconds between the last
 * hash and that open is not caught. Hashing costs about 1 ms per MB.
 *
 * Imported by the supervisor: keep it free of heavy dependencies.
 */
import { OkError } from '@contract/errors';
import { sha256File } from '@core/download/cas';

export interface PinnedFile {
  /** For people: `the kernel of "oklinux"`, `bldy`. */
  what: string;
  path: string;
  sha256: string;
  /** What to do when it does not match, e.g. `Run "oklinux verify", then "oklinux pull X".` */
  repair: string;
}

/** Throws CHECKSUM (exit 6) unless `f.path` is readable and hashes to `f.sha256`. */
export async function checkPinned(f: PinnedFile): Promise<void> {
  let actual: string;
  try {
    actual = (await sha256File(f.path)).sha256;
  } catch (e) {
    throw new OkError(
      'CHECKSUM',
      `${capital(f.what)} (${f.path}) cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)}), ` +
        `so it was not used. ${f.repair}`,
      { cause: e },
    );
  }
  if (actual !== f.sha256) {
    throw new OkError(
      'CHECKSUM',
      `${capital(f.what)} (${f.path}) changed after it was installed: its SHA-256 is ${actual}, ` +
        `not ${f.sha256}. It was not used. ${f.repair}`,
    );
  }
}

const capital = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
