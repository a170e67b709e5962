#!/usr/bin/env node
// The `oklinux` command (package.json "bin"; bin/oklinux.mjs runs this same file). It runs the bundled
// build (dist/cli/, made by `npm run build`) when that is up to date with the sources (scripts/cli-stamp.mjs
// checks its stamp, in a few ms), and the TypeScript sources through tsx otherwise, so a stale bundle never
// runs. OKLINUX_USE_DIST=0 always runs the sources; OKLINUX_USE_DIST=1 insists on the bundle and fails,
// saying why, when it is missing or stale. `__supervise` (a VM's supervisor, started by `oklinux start`)
// loads only the supervisor, so the VMM starts sooner. OKLINUX_DEBUG=1 says on stderr which one runs and why.
//
// CommonJS, so that Node starts it as a script: an ES module as the entry point costs every call about
// 10 ms more (bench/cli.mjs), and the bundle, an ES module, is imported from here all the same.
'use strict';
const { existsSync } = process.getBuiltinModule('node:fs');
const path = process.getBuiltinModule('node:path');
const { pathToFileURL } = process.getBuiltinModule('node:url');

const supervise = process.argv[2] === '__supervise';
const root = path.join(__dirname, '..');
const built = path.join(root, 'dist', 'cli', supervise ? 'supervise.mjs' : 'oklinux.mjs');
const want = process.env.OKLINUX_USE_DIST;

/** @returns {Promise<{ fresh: true } | { fresh: false, why: string }>} */
async function freshness() {
  if (want === '0') return { fresh: false, why: 'OKLINUX_USE_DIST=0' };
  // a copy with the bundle but no sources (nothing to be stale against) runs the bundle
  if (!existsSync(path.join(root, 'src-main'))) {
    return existsSync(built) ? { fresh: true } : { fresh: false, why: `${built} is not built` };
  }
  const { bundleFreshness } = await import('../scripts/cli-stamp.mjs');
  return bundleFreshness(root, built);
}

async function run() {
  const state = await freshness();
  if (want === '1' && !state.fresh) {
    process.stderr.write(
      `oklinux: OKLINUX_USE_DIST=1 asks for the bundled CLI, but it is not up to date: ${state.why}. ` +
        'Run "npm run build", or unset OKLINUX_USE_DIST to run the sources.\n',
    );
    process.exit(1);
  }
  if (process.env.OKLINUX_DEBUG) {
    process.stderr.write(`oklinux: running ${state.fresh ? 'the bundle' : `the sources (${state.why})`}\n`);
  }
  if (!state.fresh) {
    const { register } = await import('tsx/esm/api');
    register({ tsconfig: path.join(root, 'tsconfig.json') });
  }
  const bundle = pathToFileURL(built).href;
  if (supervise) {
    const mod = await import(state.fresh ? bundle : '../src-main/core/vm/supervise-main.ts');
    try {
      await mod.superviseFromFile(process.argv[3]);
    } catch (e) {
      process.stderr.write(`oklinux supervisor: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    }
  } else {
    await import(state.fresh ? bundle : '../src-main/cli/main.ts');
  }
}

// as an ES entry would: a failure to load is thrown, printed by Node, and exits 1
run().catch((e) => {
  process.nextTick(() => {
    throw e;
  });
});
