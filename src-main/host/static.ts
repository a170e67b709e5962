/**
 * Static files of the built renderer, shared by the browser host and Electron's
 * app:// protocol: a URL path is decoded and resolved inside the root, never
 * outside it, and names a file (a directory is never listed).
 *
 * "Inside" is decided on real paths: the file's realpath must lie under the
 * root's realpath, so a symlink in the UI directory that points elsewhere (to a
 * file or a directory) is answered 404 and never followed. Callers open the
 * returned real path with `STATIC_OPEN_FLAGS` (O_NOFOLLOW), so the last component
 * cannot be swapped for a symlink between the check and the open.
 */
import fs from 'node:fs';
import path from 'node:path';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
};

export function mimeType(file: string): string {
  return TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/** 200 with the file, 400 for a path that tries to leave the root or is malformed, 404 otherwise. */
export type StaticLookup = { status: 200; file: string } | { status: 400 | 404 };

export async function resolveStatic(root: string, urlPath: string): Promise<StaticLookup> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return { status: 400 };
  }
  if (!decoded.startsWith('/') || decoded.includes('\0') || decoded.includes('\\')) return { status: 400 };
  const segments = decoded.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) return { status: 400 };
  const base = path.resolve(root);
  const file = path.join(base, ...(segments.length ? segments : ['index.html']));
  if (!file.startsWith(base + path.sep)) return { status: 400 };
  const [realBase, real] = await Promise.all([realpathOrNull(base), realpathOrNull(file)]);
  if (!realBase || !real || !real.startsWith(realBase + path.sep)) return { status: 404 };
  const st = await fs.promises.stat(real).catch(() => null);
  return st?.isFile() ? { status: 200, file: real } : { status: 404 };
}

function realpathOrNull(p: string): Promise<string | null> {
  return fs.promises.realpath(p).catch(() => null);
}

/** Flags for opening a file `resolveStatic` returned: read-only, and never through a symlink. */
export const STATIC_OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0);
