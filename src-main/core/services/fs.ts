/** `fs:*`: a folder browser for the browser host, whose page cannot see host paths. */
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import type { DirListing } from '@contract';
import { OkError } from '@contract/errors';
import type { ServiceHandlers } from '@core/dispatch';

/** A server-side directory browser, for the browser host where the page cannot see host paths. */
export async function listDir(p: string | undefined): Promise<DirListing> {
  const dir = path.resolve(p ?? os.homedir());
  let dirents: fs.Dirent[];
  try {
    dirents = await fs.promises.readdir(dir, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new OkError('NOT_FOUND', `The folder ${dir} does not exist.`);
    if (code === 'ENOTDIR') throw new OkError('INVALID_INPUT', `${dir} is a file, not a folder.`);
    throw new OkError('INVALID_INPUT', `The folder ${dir} cannot be read (${code ?? 'error'}).`);
  }
  const entries = dirents
    .filter((d) => !d.name.startsWith('.'))
    .map((d) => ({ name: d.name, path: path.join(dir, d.name), dir: d.isDirectory() }))
    .sort((a, b) => Number(b.dir) - Number(a.dir) || a.name.localeCompare(b.name));
  const parent = path.dirname(dir);
  return { path: dir, parent: parent === dir ? null : parent, entries };
}

export function fsHandlers(): ServiceHandlers<'fs'> {
  return { 'fs:list': ({ path: p }) => listDir(p) };
}
