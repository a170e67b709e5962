#!/usr/bin/env node
// The `oklinux` command. In the repo it runs the TypeScript sources through tsx;
// with OKLINUX_USE_DIST=1 (and after `npm run build`) it runs the bundled build.
// `__supervise` (a VM's supervisor, started by `oklinux start`) loads only the
// supervisor, so the VMM starts sooner.
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';

const supervise = process.argv[2] === '__supervise';
const built = new URL(supervise ? '../dist/cli/supervise.mjs' : '../dist/cli/oklinux.mjs', import.meta.url);
const useDist = process.env.OKLINUX_USE_DIST === '1' && existsSync(fileURLToPath(built));
if (!useDist) {
  const { register } = await import('tsx/esm/api');
  register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
}
if (supervise) {
  const mod = await import(useDist ? built.href : '../src-main/core/vm/supervise-main.ts');
  try {
    await mod.superviseFromFile(process.argv[3]);
  } catch (e) {
    process.stderr.write(`oklinux supervisor: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  }
} else {
  await import(useDist ? built.href : '../src-main/cli/main.ts');
}
