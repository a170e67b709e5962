/**
 * Runs an ES module (TypeScript, path aliases allowed) as an unprivileged user: `nobody`
 * when the tests run as root (root ignores permission bits), else as ourselves. It prints
 * its answer as JSON on stdout, which is returned parsed.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const NOBODY = 65534;
export const isRoot = process.getuid?.() === 0;

export function runUnprivileged(source: string): unknown {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oklinux-unpriv-'));
  try {
    fs.chmodSync(dir, 0o755);
    const file = path.join(dir, 'main.mts');
    fs.writeFileSync(file, source, { mode: 0o644 });
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { ...process.env, HOME: dir },
      ...(isRoot ? { uid: NOBODY, gid: NOBODY } : {}),
    });
    if (r.status !== 0) throw new Error(`unprivileged child failed (status ${r.status}): ${r.stderr || r.error}`);
    return JSON.parse(r.stdout) as unknown;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Fails (never skips) a test that needs root, naming why: the README's test command and CI run as root, so a
 * run without it must not look green while these attacks went untested.
 */
export function requireRoot(why: string): void {
  if (!isRoot) throw new Error(`this test needs root (${why}); run the README's test command as root, as CI does`);
}
