/**
 * The main-process bundles as vite.main.config.mjs builds them: the sandboxed
 * preload needs nothing but `electron`, the main bundle needs only what ships
 * (Node built-ins, electron, package dependencies), and the built CLI runs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { builtinModules, createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNELS } from '@contract';
import { REPO } from '../helpers/cli';
import { tmpDir } from '../helpers/tmp';

const t = tmpDir('oklinux-bundles-');
// Inside the repo, so that the bundles' external imports resolve from its node_modules.
fs.mkdirSync(path.join(REPO, 'dist'), { recursive: true });
const built = fs.mkdtempSync(path.join(REPO, 'dist', '.test-bundles-'));
const out = path.join(built, 'main');
const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
};

function build(mode: string, outDir: string): void {
  const vite = path.join(REPO, 'node_modules/vite/bin/vite.js');
  const r = spawnSync(
    process.execPath,
    [vite, 'build', '-c', 'vite.main.config.mjs', '--mode', mode, '--outDir', outDir],
    {
      cwd: REPO,
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`vite build --mode ${mode} failed:\n${r.stdout}\n${r.stderr}`);
}

/** Bare specifiers a bundle loads at run time. */
function imports(file: string): string[] {
  const src = fs.readFileSync(file, 'utf8');
  const found = [
    ...src.matchAll(/^import\s[^'"]*?from\s*["']([^"']+)["']/gm),
    ...src.matchAll(/^import\s*["']([^"']+)["']/gm),
    ...src.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g),
    ...src.matchAll(/\brequire\(\s*["']([^"']+)["']\s*\)/g),
  ].map((m) => m[1]!);
  return [...new Set(found)].sort();
}

beforeAll(() => {
  build('main', out);
  build('preload', out);
  build('cli', path.join(built, 'cli'));
});
afterAll(() => {
  t.cleanup();
  fs.rmSync(built, { recursive: true, force: true });
});

describe('main-process bundles', () => {
  it('the preload is one CommonJS file that requires only electron', () => {
    const file = path.join(out, 'preload.cjs');
    expect(imports(file)).toEqual(['electron']);
    const exposed = new Map<string, Record<string, unknown>>();
    const fakeElectron = {
      contextBridge: { exposeInMainWorld: (k: string, v: Record<string, unknown>) => exposed.set(k, v) },
      ipcRenderer: {},
      webUtils: {},
    };
    const wrapper = new Function('require', 'module', 'exports', fs.readFileSync(file, 'utf8'));
    const mod = { exports: {} };
    wrapper((id: string) => (id === 'electron' ? fakeElectron : createRequire(file)(id)), mod, mod.exports);
    const api = exposed.get('oklinux')!;
    const services = [...new Set(CHANNELS.map((c) => c.split(':')[0]!))];
    expect(Object.keys(api).sort()).toEqual([...services, 'onEvent', 'pathForFile', 'pickFolders'].sort());
  });

  it('the main bundle loads only Node built-ins, electron and shipped dependencies', () => {
    const allowed = new Set(['electron', ...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
    const deps = Object.keys(pkg.dependencies);
    const foreign = imports(path.join(out, 'main.js')).filter(
      (s) => !allowed.has(s) && !deps.some((d) => s === d || s.startsWith(`${d}/`)),
    );
    expect(foreign).toEqual([]);
    expect(imports(path.join(out, 'main.js'))).toEqual(
      expect.arrayContaining(['electron', 'better-sqlite3', 'node-pty']),
    );
  });

  it('the built CLI runs and reports the package version', () => {
    const home = path.join(t.dir, 'home');
    const cli = path.join(built, 'cli', 'oklinux.mjs');
    const doctor = spawnSync(process.execPath, [cli, 'doctor', '--json', '--home', home], {
      encoding: 'utf8',
      env: { ...process.env, OKLINUX_GITHUB_API: 'http://127.0.0.1:9' },
    });
    expect(doctor.stderr).toBe('');
    expect(JSON.parse(doctor.stdout)).toMatchObject({ dataDir: home });
    expect(fs.readFileSync(cli, 'utf8')).toContain(`version = ${JSON.stringify(pkg.version)}`);
  });
});
