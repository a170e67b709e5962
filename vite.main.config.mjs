/**
 * Builds the Node side into dist/ (the renderer has its own vite.config.ts):
 *   --mode main     src-main/electron/main.ts    -> dist/main/electron/main.js (ESM)
 *   --mode preload  src-main/electron/preload.ts -> dist/main/electron/preload.cjs (CommonJS, one file,
 *                   since a sandboxed preload can require nothing but 'electron')
 *   --mode cli      src-main/cli/main.ts         -> dist/cli/oklinux.mjs (ESM; bin/oklinux.mjs runs it
 *                   with OKLINUX_USE_DIST=1)
 *   --mode supervise src-main/core/vm/supervise-main.ts -> dist/cli/supervise.mjs (the VM supervisor alone,
 *                   so starting a VM does not load the whole CLI)
 * Dependencies stay external (they ship in node_modules, natives rebuilt for Electron); the app's version
 * is inlined, since package.json is not next to the bundles.
 */
import { builtinModules } from 'node:module';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/** @param {string} p */
const r = (p) => fileURLToPath(new URL(p, import.meta.url));
/** @type {{ version: string, dependencies: Record<string, string> }} */
const pkg = JSON.parse(readFileSync(r('./package.json'), 'utf8'));

const targets = {
  main: {
    entry: 'src-main/electron/main.ts',
    outDir: 'dist/main/electron',
    file: 'main.js',
    format: 'es',
    clean: true,
  },
  preload: {
    entry: 'src-main/electron/preload.ts',
    outDir: 'dist/main/electron',
    file: 'preload.cjs',
    format: 'cjs',
    clean: false,
  },
  cli: { entry: 'src-main/cli/main.ts', outDir: 'dist/cli', file: 'oklinux.mjs', format: 'es', clean: true },
  supervise: {
    entry: 'src-main/core/vm/supervise-main.ts',
    outDir: 'dist/cli',
    file: 'supervise.mjs',
    format: 'es',
    clean: false,
  },
};

/** @returns {import('vite').Plugin} */
function inlineVersion() {
  const versionModule = r('./src-main/core/version.ts');
  return {
    name: 'oklinux-inline-version',
    load: (id) => (id === versionModule ? `export const version = ${JSON.stringify(pkg.version)};` : null),
  };
}

const nodeExternals = [
  'electron',
  ...builtinModules,
  ...builtinModules.map((m) => `node:${m}`),
  ...Object.keys(pkg.dependencies).map((d) => new RegExp(`^${d}(/.*)?$`)),
];

export default defineConfig(({ mode }) => {
  if (!(mode in targets))
    throw new Error(`vite.main.config.mjs: --mode must be main, preload, cli or supervise, not "${mode}"`);
  const t = targets[/** @type {keyof typeof targets} */ (mode)];
  const preload = mode === 'preload';
  return {
    plugins: [inlineVersion()],
    resolve: {
      alias: [
        { find: /^@contract$/, replacement: r('./src-main/contract/index.ts') },
        { find: /^@contract\/(.*)$/, replacement: r('./src-main/contract/$1') },
        { find: /^@core\/(.*)$/, replacement: r('./src-main/core/$1') },
      ],
    },
    ssr: preload ? { noExternal: true, external: ['electron'] } : {},
    build: {
      ssr: r(`./${t.entry}`),
      outDir: r(`./${t.outDir}`),
      emptyOutDir: t.clean,
      target: 'node20',
      sourcemap: true,
      minify: false,
      copyPublicDir: false,
      rolldownOptions: {
        external: preload ? ['electron'] : nodeExternals,
        output: { format: t.format, entryFileNames: t.file, codeSplitting: false },
      },
    },
  };
});
