#!/usr/bin/env node
// The `oklinux` command. In the repo it runs the TypeScript sources through tsx;
// a packaged build runs the compiled CLI instead.
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';

const built = new URL('../dist/cli/oklinux.mjs', import.meta.url);
if (process.env.OKLINUX_USE_DIST === '1' && existsSync(fileURLToPath(built))) {
  await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
  await import('../src-main/cli/main.ts');
}
