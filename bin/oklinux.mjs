#!/usr/bin/env node
// The `oklinux` command. It runs the bundled build (dist/cli/, made by `npm run build`) when that is up to
// date with the sources (scripts/cli-stamp.mjs checks its stamp, in about 2 ms), and the TypeScript sources
// through tsx otherwise, so a stale bundle never runs. OKLINUX_USE_DIST=0 always runs the sources;
// OKLINUX_USE_DIST=1 insists on the bundle and fails, saying why, when it is missing or stale.
// `__supervise` (a VM's supervisor, started by `oklinux start`) loads only the supervisor, so the VMM
// starts sooner. OKLINUX_DEBUG=1 says on stderr which one runs and why.
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';

const supervise = process.argv[2] === '__supervise';
const built = new URL(supervise ? '../dist/cli/supervise.mjs' : '../dist/cli/oklinux.mjs', import.meta.url);
const root = fileURLToPath(new URL('..', import.meta.url));
const want = process.env.OKLINUX_USE_DIST;

/** @returns {Promise<{ fresh: true } | { fresh: false, why: string }>} */
async function freshness() {
  if (want === '0') return { fresh: false, why: 'OKLINUX_USE_DIST=0' };
  // a copy with the bundle but no sources (nothing to be stale against) runs the bundle
  if (!existsSync(new URL('../src-main', import.meta.url))) {
    return existsSync(built) ? { fresh: true } : { fresh: false, why: `${fileURLToPath(built)} is not built` };
  }
  const { bundleFreshness } = await import('../scripts/cli-stamp.mjs');
  return bundleFreshness(root, fileURLToPath(built));
}

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
  register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
}
if (supervise) {
  const mod = await import(state.fresh ? built.href : '../src-main/core/vm/supervise-main.ts');
  try {
    await mod.superviseFromFile(process.argv[3]);
  } catch (e) {
    process.stderr.write(`oklinux supervisor: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  }
} else {
  await import(state.fresh ? built.href : '../src-main/cli/main.ts');
}
