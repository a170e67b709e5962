/**
 * `node --import <this file>`: appends the URL of every module the process loads to the file named by
 * RECORD_LOADS_TO, one a line: ES modules (node: builtins too) as they load, and CommonJS files (from
 * require's cache) when the process exits. Module hooks run on their own thread in Node 20; this same file
 * registers itself there and records in its `load` hook. Used by test/cli/ls-imports.test.ts.
 */
import fs from 'node:fs';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';

if (isMainThread && process.env.RECORD_LOADS_TO) {
  const to = process.env.RECORD_LOADS_TO;
  register(import.meta.url);
  const { cache } = createRequire(import.meta.url);
  process.on('exit', () => {
    const cjs = Object.keys(cache).filter((f) => f.startsWith('/'));
    fs.appendFileSync(to, cjs.map((f) => `${pathToFileURL(f).href}\n`).join(''));
  });
}

/** @type {import('node:module').LoadHook} */
export async function load(url, context, next) {
  const loaded = await next(url, context);
  const to = process.env.RECORD_LOADS_TO;
  if (to) fs.appendFileSync(to, `${url}\n`);
  return loaded;
}
