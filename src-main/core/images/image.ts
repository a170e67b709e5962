/** An installed image as the contract shows it, and the size check of a file in the store. */
import fs from 'node:fs';
import type { Image } from '@contract';
import type { ImageRow } from '@core/store';

export function fileSize(p: string): number | null {
  try {
    return fs.statSync(p).size;
  } catch {
    return null;
  }
}

export function toImage(row: ImageRow): Image {
  return {
    ref: row.ref,
    kind: row.kind,
    version: row.version,
    cmdline: row.cmdline,
    installedAt: row.installedAt,
    size: row.artifacts.reduce((n, a) => n + a.size, 0),
    artifacts: row.artifacts.map(({ role, sha256, size }) => ({ role, sha256, size })),
  };
}
