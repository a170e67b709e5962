/**
 * bin/oklinux.mjs runs the bundled CLI only while it is up to date with the sources (scripts/cli-stamp.mjs),
 * and the sources through tsx otherwise. Checked on a small copy of the repository's layout: the real
 * bin/oklinux.mjs (which runs bin/oklinux.cjs, package.json's "bin") and cli-stamp.mjs, a src-main/ whose CLI entry says "sources", and a dist/cli/ bundle
 * that says "bundle", stamped as the build stamps it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { REPO } from '../helpers/cli';
import { tmpDir } from '../helpers/tmp';
// @ts-expect-error: a build script in JavaScript, typed by its JSDoc
import { currentStamp, stampFileOf } from '../../scripts/cli-stamp.mjs';

const t = tmpDir('oklinux-bundle-choice-');
afterAll(() => t.cleanup());
let repo = '';
let n = 0;

function write(rel: string, text: string): void {
  fs.mkdirSync(path.dirname(path.join(repo, rel)), { recursive: true });
  fs.writeFileSync(path.join(repo, rel), text);
}

/** The bundle's stamp, as `vite build --mode cli` writes it. */
function stamp(): void {
  fs.writeFileSync(stampFileOf(path.join(repo, 'dist/cli/oklinux.mjs')), JSON.stringify(currentStamp(repo)));
}

function run(
  env: NodeJS.ProcessEnv = {},
  entry = 'bin/oklinux.mjs',
): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(repo, entry), 'ls'], {
    encoding: 'utf8',
    env: { ...process.env, OKLINUX_USE_DIST: '', OKLINUX_DEBUG: '', ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeEach(() => {
  repo = path.join(t.dir, `repo-${n++}`);
  for (const f of ['bin/oklinux.mjs', 'bin/oklinux.cjs', 'scripts/cli-stamp.mjs']) {
    fs.mkdirSync(path.dirname(path.join(repo, f)), { recursive: true });
    fs.copyFileSync(path.join(REPO, f), path.join(repo, f));
  }
  fs.mkdirSync(path.join(repo, 'node_modules'), { recursive: true });
  for (const dep of ['tsx', 'esbuild', 'zod']) {
    fs.symlinkSync(path.join(REPO, 'node_modules', dep), path.join(repo, 'node_modules', dep));
  }
  write('package.json', '{"type":"module"}');
  write('tsconfig.json', '{}');
  write('vite.main.config.mjs', '// the build config\n');
  write('src-main/cli/main.ts', "const said: string = 'sources';\nconsole.log(said);\n");
  write('src-main/core/vm/supervise-main.ts', 'export async function superviseFromFile(): Promise<void> {}\n');
  write('dist/cli/oklinux.mjs', "console.log('bundle');\n");
  stamp();
});

describe('bin/oklinux.mjs: the bundle when it is up to date, the sources otherwise', () => {
  it('runs a fresh bundle', () => {
    expect(run()).toMatchObject({ code: 0, stdout: 'bundle\n', stderr: '' });
    expect(run({ OKLINUX_DEBUG: '1' }).stderr).toBe('oklinux: running the bundle\n');
  });

  it('bin/oklinux.cjs, the "bin" of package.json, chooses as bin/oklinux.mjs does', () => {
    expect(run({ OKLINUX_DEBUG: '1' }, 'bin/oklinux.cjs')).toMatchObject({
      code: 0,
      stdout: 'bundle\n',
      stderr: 'oklinux: running the bundle\n',
    });
    write('src-main/cli/main.ts', "console.log('edited');\n");
    expect(run({ OKLINUX_DEBUG: '1' }, 'bin/oklinux.cjs')).toMatchObject({
      code: 0,
      stdout: 'edited\n',
      stderr: 'oklinux: running the sources (src-main/cli/main.ts changed since the build)\n',
    });
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(pkg.bin).toEqual({ oklinux: 'bin/oklinux.cjs' });
  });

  it('runs the bundle after a touch or a checkout that leaves the contents as built', () => {
    const later = new Date(Date.now() + 60_000);
    fs.utimesSync(path.join(repo, 'src-main/cli/main.ts'), later, later);
    expect(run().stdout).toBe('bundle\n');
  });

  it('runs the sources once a source changes, even at the same size', () => {
    write('src-main/cli/main.ts', "const said: string = 'SOURCES';\nconsole.log(said);\n");
    expect(run()).toMatchObject({ code: 0, stdout: 'SOURCES\n' });
    expect(run({ OKLINUX_DEBUG: '1' }).stderr).toBe(
      'oklinux: running the sources (a source changed since the build)\n',
    );
  });

  it('runs the sources once a source is added or removed, or package.json changes', () => {
    write('src-main/core/new.ts', 'export {};\n');
    expect(run({ OKLINUX_DEBUG: '1' })).toMatchObject({
      stdout: 'sources\n',
      stderr: 'oklinux: running the sources (src-main/core/new.ts was added since the build)\n',
    });
    fs.rmSync(path.join(repo, 'src-main/core/new.ts'));
    expect(run().stdout).toBe('bundle\n');
    fs.rmSync(path.join(repo, 'src-main/core/vm/supervise-main.ts'));
    expect(run().stdout).toBe('sources\n');
    write('src-main/core/vm/supervise-main.ts', 'export async function superviseFromFile(): Promise<void> {}\n');
    write('package.json', '{"type":"module","version":"2"}');
    expect(run().stdout).toBe('sources\n');
  });

  it('runs the sources when the stamp is missing or damaged (a build that failed half way)', () => {
    const file = stampFileOf(path.join(repo, 'dist/cli/oklinux.mjs'));
    fs.writeFileSync(file, '{"files":');
    expect(run().stdout).toBe('sources\n');
    fs.rmSync(file);
    expect(run().stdout).toBe('sources\n');
  });

  it('OKLINUX_USE_DIST=0 runs the sources; =1 refuses a stale bundle, saying why and what to do', () => {
    expect(run({ OKLINUX_USE_DIST: '0' }).stdout).toBe('sources\n');
    expect(run({ OKLINUX_USE_DIST: '1' }).stdout).toBe('bundle\n');
    write('src-main/cli/main.ts', "console.log('edited');\n");
    const r = run({ OKLINUX_USE_DIST: '1' });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'oklinux: OKLINUX_USE_DIST=1 asks for the bundled CLI, but it is not up to date: src-main/cli/main.ts ' +
        'changed since the build. Run "npm run build", or unset OKLINUX_USE_DIST to run the sources.\n',
    );
  });
});
