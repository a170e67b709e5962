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
// @ts-expect-error: a build script in JavaScript, typed by its JSDoc
import { bundleFreshness } from '../../scripts/cli-stamp.mjs';

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
    // inlined into whichever chunk holds the version module (the CLI is split into chunks)
    const dir = path.dirname(cli);
    const code = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.mjs'))
      .map((f) => fs.readFileSync(path.join(dir, f), 'utf8'));
    expect(code.join('\n')).toContain(`version = ${JSON.stringify(pkg.version)}`);
  });

  it('the built CLI is stamped with its sources, and `ls` loads none of the engine it does not need', () => {
    const cli = path.join(built, 'cli', 'oklinux.mjs');
    expect(bundleFreshness(REPO, cli)).toEqual({ fresh: true });
    // chunks sit beside the entry, so paths relative to import.meta.url (resources/, bin/) stay right
    const dir = path.join(built, 'cli');
    expect(fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory())).toEqual([]);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.mjs')).length).toBeGreaterThan(10);
    // every module `oklinux ls` resolves, logged by a module hook
    const log = path.join(t.dir, 'loads.log');
    fs.writeFileSync(
      path.join(t.dir, 'hooks.mjs'),
      "import fs from 'node:fs';\n" +
        'export async function resolve(spec, ctx, next) {\n' +
        '  const r = await next(spec, ctx);\n' +
        `  fs.appendFileSync(${JSON.stringify(log)}, r.url + '\\n');\n` +
        '  return r;\n}\n',
    );
    fs.writeFileSync(
      path.join(t.dir, 'register.mjs'),
      "import { register } from 'node:module';\nregister(new URL('./hooks.mjs', import.meta.url));\n",
    );
    const ls = spawnSync(
      process.execPath,
      ['--import', path.join(t.dir, 'register.mjs'), cli, 'ls', '--json', '--home', path.join(t.dir, 'ls-home')],
      { encoding: 'utf8' },
    );
    expect(ls.stderr).toBe('');
    expect(ls.stdout).toBe('[]\n');
    const loaded = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
    const packages = [...new Set(loaded.map((u) => /\/node_modules\/((@[^/]+\/)?[^/]+)/.exec(u)?.[1]).filter(Boolean))];
    expect(packages).toEqual(['better-sqlite3']); // zod is bundled; no undici, tar, node-pty, ws, QUIC
    const chunks = loaded.filter((u) => u.startsWith('file://') && u.includes(`${path.basename(built)}/cli/`));
    const names = chunks.map((u) => path.basename(new URL(u).pathname).replace(/-[\w-]{8}\.mjs$/, ''));
    const unneededChunks = [
      'serve',
      'server',
      'download',
      'service',
      'catalog',
      'supervise-main',
      'plan',
      'extract',
      'disk',
    ];
    for (const unneeded of unneededChunks) {
      expect(names, `ls loaded the ${unneeded} chunk`).not.toContain(unneeded);
      expect(
        fs.readdirSync(dir).some((f) => f.startsWith(`${unneeded}-`)),
        `no ${unneeded} chunk was built`,
      ).toBe(true);
    }
  });
});
