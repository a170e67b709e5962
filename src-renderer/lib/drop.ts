/**
 * What a drop of things from the file manager means for shares: folders become
 * host paths (through the Electron preload's `pathForFile`), anything else is
 * refused by name. Read synchronously inside the `drop` handler: a
 * DataTransfer's items are gone once the event returns.
 */

export interface DropResult {
  /** Host paths of the dropped folders, in drop order. */
  folders: string[];
  /** Names of dropped things that are not folders. */
  refused: string[];
  /** Folders were dropped but this window cannot see host paths (a browser). */
  noPaths: boolean;
}

/** True when a drag carries files or folders (not text or links). */
export function carriesFiles(dt: DataTransfer | null): boolean {
  return !!dt && Array.from(dt.types).includes('Files');
}

export function readDrop(dt: DataTransfer, pathForFile: ((file: File) => string) | null): DropResult {
  const out: DropResult = { folders: [], refused: [], noPaths: false };
  for (const item of Array.from(dt.items)) {
    if (item.kind !== 'file') continue;
    const entry = item.webkitGetAsEntry?.() ?? null;
    const file = item.getAsFile();
    const name = entry?.name ?? file?.name ?? 'item';
    if (!entry?.isDirectory || !file) {
      out.refused.push(name);
      continue;
    }
    const path = pathForFile ? pathForFile(file) : '';
    if (path) out.folders.push(path);
    else out.noPaths = true;
  }
  return out;
}

/** One sentence about what was refused, or null. */
export function refusalMessage(r: DropResult): string | null {
  const parts: string[] = [];
  if (r.refused.length) {
    const names = r.refused.map((n) => `"${n}"`).join(', ');
    parts.push(
      `${names} ${r.refused.length === 1 ? 'is not a folder' : 'are not folders'}: only folders can be shared.`,
    );
  }
  if (r.noPaths) {
    parts.push('This browser cannot tell where a dropped folder lives: type its path or use Browse.');
  }
  return parts.length ? parts.join(' ') : null;
}
