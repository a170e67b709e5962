/**
 * How `oklinux serve` opens the browser without the token ever appearing in a
 * process's argv or environment, which other local users can read in
 * /proc/<pid>/cmdline (and a browser's command line is long-lived). As Jupyter
 * does, the tokened URL goes into a small HTML page that redirects to it, and
 * the browser is opened on that page's file:// URL:
 *
 * - the page lives in `<data>/run/serve/`, a folder created 0700 and checked to
 *   be ours (not a symlink, owned by this user) before anything is written;
 * - it is written 0600 to a fresh temporary name (O_EXCL) and renamed into
 *   place, so it is never readable by others, never half-written, and never
 *   written through a planted file or symlink;
 * - `remove()` deletes it when serve exits (the token dies with the server).
 *
 * The opener is `$OKLINUX_BROWSER` when set: one program (no shell, no
 * arguments of its own) given exactly one argument, the page's file:// URL,
 * like Python's BROWSER. Otherwise xdg-open, open (macOS) or start (Windows).
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { OkError } from '@contract/errors';

export interface LaunchPage {
  /** The page's path on disk. */
  file: string;
  /** What the browser is opened on: file:///…/open-<port>.html */
  url: string;
  remove(): void;
}

/** Where serve keeps its launch pages: `<data>/run/serve`. */
export function launchDir(dataRoot: string): string {
  return path.join(dataRoot, 'run', 'serve');
}

/** Create `dir` 0700 (and its parents as needed), or make sure the existing one is ours and private. */
function privateDir(dir: string): void {
  const refuse = (why: string): never => {
    throw new OkError('DATA_DIR', `${dir} ${why}, so the browser's launch page cannot be kept private there.`);
  };
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    refuse(`cannot be created (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const st = fs.lstatSync(dir);
  if (!st.isDirectory()) refuse('is not a folder');
  const me = process.getuid?.();
  if (me !== undefined && st.uid !== me) refuse(`belongs to another user (uid ${st.uid})`);
  if ((st.mode & 0o077) !== 0) fs.chmodSync(dir, 0o700);
}

const html = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function pageText(target: string): string {
  const href = html(target);
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="referrer" content="no-referrer">',
    `<meta http-equiv="refresh" content="0;url=${href}">`,
    '<title>okLinux Desktop</title>',
    '</head>',
    `<body><p>Opening <a href="${href}">okLinux Desktop</a>…</p></body>`,
    '</html>',
    '',
  ].join('\n');
}

/** Write the page that redirects to `target` (the tokened URL) into `dir`, named after `port`. */
export async function writeLaunchPage(dir: string, target: string, port: number): Promise<LaunchPage> {
  privateDir(dir);
  const file = path.join(dir, `open-${port}.html`);
  const tmp = path.join(dir, `.open-${port}-${randomBytes(8).toString('hex')}.tmp`);
  const fh = await fs.promises.open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(pageText(target));
    await fh.close();
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fh.close().catch(() => undefined);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  return { file, url: pathToFileURL(file).href, remove: () => fs.rmSync(file, { force: true }) };
}

/** The opener's command line for `target`: $OKLINUX_BROWSER, else the platform's own. */
function browserCommand(
  target: string,
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): [string, string[]] {
  if (env.OKLINUX_BROWSER) return [env.OKLINUX_BROWSER, [target]];
  if (platform === 'darwin') return ['open', [target]];
  if (platform === 'win32') return ['cmd', ['/c', 'start', '""', target]];
  return ['xdg-open', [target]];
}

/** Best effort: the URL is printed anyway. */
export function openBrowser(target: string, env: NodeJS.ProcessEnv = process.env): void {
  const [cmd, args] = browserCommand(target, env);
  const child = spawn(cmd, args, { detached: true, stdio: 'ignore', env });
  child.on('error', () => undefined);
  child.unref();
}
