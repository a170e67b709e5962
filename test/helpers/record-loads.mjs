/**
 * `node --import <this file>`: appends the URL of every module the process loads (node: builtins too) to the
 * file named by RECORD_LOADS_TO, one a line. Module hooks run on their own thread in Node 20; this same file
 * registers itself there and records in its `load` hook. Used by test/cli/ls-imports.test.ts.
 */
import fs from 'node:fs';
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';

if (isMainThread) register(import.meta.url);

/** @type {import('node:module').LoadHook} */
export async function load(url, context, next) {
  const loaded = await next(url, context);
  const to = process.env.RECORD_LOADS_TO;
  if (to) fs.appendFileSync(to, `${url}\n`);
  return loaded;
}
