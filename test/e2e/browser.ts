/**
 * Chromium for the UI tests and the UI benchmark: Debian's /usr/bin/chromium
 * driven by playwright-core (no browser is ever downloaded), and the renderer
 * built fresh into a directory of the caller's choosing, so a clean clone
 * without dist/ works and nobody else's build is touched.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO } from '../helpers/cli';

export const CHROMIUM = '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is missing: ${CHROMIUM} does not exist. Install the Debian package "chromium" (apt-get install -y chromium).`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/** `vite build` of the renderer into `outDir` (emptied first). */
export function buildRenderer(outDir: string): Promise<void> {
  const vite = path.join(REPO, 'node_modules', 'vite', 'bin', 'vite.js');
  const args = [vite, 'build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: REPO, maxBuffer: 16 * 1024 * 1024 }, (e, stdout, stderr) => {
      if (e) reject(new Error(`vite build of the renderer failed (${e.message}):\n${stdout}\n${stderr}`));
      else if (!fs.existsSync(path.join(outDir, 'index.html'))) {
        reject(new Error(`vite build wrote no index.html into ${outDir}:\n${stdout}\n${stderr}`));
      } else resolve();
    });
  });
}

/** The console's visible rows, one line each (xterm's DOM renderer draws spaces as U+00A0). */
export function consoleText(page: Page): Promise<string> {
  return page
    .locator('[data-testid=console] .xterm-rows > div')
    .evaluateAll((rows) => rows.map((r) => (r.textContent ?? '').replace(/\u00a0/g, ' ').trimEnd()).join('\n'));
}

/** Wait until the visible console matches `re`; the error shows what it showed instead. */
export async function waitForConsole(page: Page, re: RegExp, ms = 90_000): Promise<string> {
  const end = Date.now() + ms;
  let text = '';
  while (Date.now() < end) {
    text = await consoleText(page);
    if (re.test(text)) return text;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the console never showed ${re}; it showed:\n${text}`);
}
