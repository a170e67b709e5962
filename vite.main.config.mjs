/**
 * Builds the Node side into dist/ (the renderer has its own vite.config.ts):
 *   --mode main     src-main/electron/main.ts    -> dist/main/electron/main.js (ESM)
 *   --mode preload  src-main/electron/preload.ts -> dist/main/electron/preload.cjs (CommonJS, one file,
 *                   since a sandboxed preload can require nothing but 'electron')
 *   --mode cli      src-main/cli/main.ts         -> dist/cli/oklinux.mjs (ESM; bin/oklinux.cjs runs it
 *                   while its stamp says it is up to date)
 *   --mode supervise src-main/core/vm/supervise-main.ts -> dist/cli/supervise.mjs (the VM supervisor alone,
 *                   so starting a VM does not load the whole CLI)
 * Dependencies stay external (they ship in node_modules, natives rebuilt for Electron); the app's version
 * is inlined, since package.json is not next to the bundles.
 *
 * The CLI starts fast (bench/cli.mjs): its commands and the engine's services are dynamic imports, kept as
 * chunks beside oklinux.mjs (dist/cli/, so paths relative to import.meta.url stay right), and zod is bundled
 * into the CLI and the supervisor: loaded from node_modules it is some 300 files (every locale) and
 * costs about four times as long. Each CLI build also writes a stamp of its inputs (cli-stamp.mjs), which
 * bin/oklinux.cjs checks before it runs the bundle instead of the sources.
 */
import { builtinModules } from 'node:module';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { INLINED_DEPS, writeStampPlugin } from './scripts/cli-stamp.mjs';

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
  cli: {
    entry: 'src-main/cli/main.ts',
    outDir: 'dist/cli',
    file: 'oklinux.mjs',
    format: 'es',
    clean: true,
    /**
     * The modules `oklinux ls` loads through dynamic imports: the VM commands, the engine, its `vms`
     * service and the VM manager. They and everything they import that the entry does not go into one
     * chunk (lsChunk), so `ls` loads two files, not a dozen (each ESM file costs Node about 1 ms).
     */
    lsRoots: ['cli/commands/vms.ts', 'core/engine.ts', 'core/services/vms.ts', 'core/vm/manager.ts'],
  },
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

/**
 * In the CLI-side bundles, Node's built-in modules are taken with `process.getBuiltinModule()` rather than
 * `import … from "node:x"`: an ES import of a built-in makes Node build an ES facade of it, reading every
 * export, which loads what the built-in keeps lazy (node:fs its streams, node:util MIMEType, node:module the
 * source maps), a few ms of every CLI call (bench/cli.mjs). It rewrites rolldown's own import lines (one
 * a line, at the top of a chunk), line for line, so the source maps still hold; one it cannot read fails
 * the build.
 * @returns {import('vite').Plugin}
 */
function builtinsWithoutFacade() {
  return {
    name: 'oklinux-builtins-without-facade',
    renderChunk(code) {
      const rewritten = code.replace(/^import (.+) from "(node:[\w/]+)";$/gm, (line, what, spec) => {
        // `name`, `{ a, b as c }`, or `name, { a, b as c }`
        const m = /^(?:([\w$]+)(?:, |$))?(?:\{ ([\w$]+(?: as [\w$]+)?(?:, [\w$]+(?: as [\w$]+)?)*) \})?$/.exec(what);
        if (!m || !(m[1] || m[2])) throw new Error(`oklinux-builtins-without-facade: cannot rewrite ${line}`);
        const mod = m[1] ?? `__${spec.replace(/\W/g, '_')}`;
        const named = m[2] ? ` const { ${m[2].replace(/ as /g, ': ')} } = ${mod};` : '';
        return `const ${mod} = process.getBuiltinModule(${JSON.stringify(spec)});${named}`;
      });
      return rewritten === code ? null : { code: rewritten, map: null };
    },
  };
}

/**
 * The chunk grouping for the CLI: `lsRoots` and their static imports, less the entry's own, in one chunk
 * named "ls". Other dynamic imports keep a chunk each.
 * @param {string} entry @param {string[]} roots
 * @returns {import('rolldown').CodeSplittingOptions}
 */
function lsChunk(entry, roots) {
  /** @type {Set<string> | null} */
  let group = null;
  /** @param {import('rolldown').ChunkingContext} ctx @param {string[]} from */
  const closure = (ctx, from) => {
    const seen = new Set();
    const todo = [...from];
    while (todo.length) {
      const id = /** @type {string} */ (todo.pop());
      if (seen.has(id)) continue;
      seen.add(id);
      todo.push(...(ctx.getModuleInfo(id)?.importedIds ?? []));
    }
    return seen;
  };
  return {
    groups: [
      {
        name: (id, ctx) => {
          if (!group) {
            const mains = closure(ctx, [r(`./${entry}`)]);
            group = new Set(
              [
                ...closure(
                  ctx,
                  roots.map((f) => r(`./src-main/${f}`)),
                ),
              ].filter((m) => !mains.has(m)),
            );
          }
          return group.has(id) ? 'ls' : null;
        },
        includeDependenciesRecursively: false,
      },
    ],
  };
}

/** @param {boolean} inline */
const nodeExternals = (inline) => [
  'electron',
  ...builtinModules,
  ...builtinModules.map((m) => `node:${m}`),
  ...Object.keys(pkg.dependencies)
    .filter((d) => !(inline && INLINED_DEPS.includes(d)))
    .map((d) => new RegExp(`^${d}(/.*)?$`)),
];

export default defineConfig(({ mode }) => {
  if (!(mode in targets))
    throw new Error(`vite.main.config.mjs: --mode must be main, preload, cli or supervise, not "${mode}"`);
  const t = targets[/** @type {keyof typeof targets} */ (mode)];
  const preload = mode === 'preload';
  const cliSide = mode === 'cli' || mode === 'supervise';
  return {
    plugins: [inlineVersion(), ...(cliSide ? [writeStampPlugin(r('.'), t.file), builtinsWithoutFacade()] : [])],
    resolve: {
      alias: [
        { find: /^@contract$/, replacement: r('./src-main/contract/index.ts') },
        { find: /^@contract\/(.*)$/, replacement: r('./src-main/contract/$1') },
        { find: /^@core\/(.*)$/, replacement: r('./src-main/core/$1') },
      ],
    },
    ssr: preload ? { noExternal: true, external: ['electron'] } : cliSide ? { noExternal: INLINED_DEPS } : {},
    build: {
      ssr: r(`./${t.entry}`),
      outDir: r(`./${t.outDir}`),
      emptyOutDir: t.clean,
      target: 'node20',
      sourcemap: true,
      minify: false,
      copyPublicDir: false,
      rolldownOptions: {
        external: preload ? ['electron'] : nodeExternals(cliSide),
        output: {
          format: t.format,
          entryFileNames: t.file,
          chunkFileNames: '[name]-[hash].mjs',
          codeSplitting: 'lsRoots' in t ? lsChunk(t.entry, t.lsRoots) : false,
        },
      },
    },
  };
});
