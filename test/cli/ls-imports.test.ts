/**
 * `oklinux ls` loads only what listing VMs needs (#11 item 6: the CLI's fixed cost). Its one contract call,
 * `vms:list`, takes no input, so it needs neither zod nor the contract's schemas (the biggest module of the
 * bundle: about 30 ms of a bundled `ls` here), nor the downloader, the catalog, tar, the HTTP client, the
 * VM planner or the root preparer. Checked by running the real command from the sources with a module hook
 * that records every module the process loads, ES modules and CommonJS (test/helpers/record-loads.mjs): the bundle is built from the
 * same import graph (its chunks follow these modules' static and dynamic imports). No timing is asserted:
 * bench/cli.mjs measures it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, runCli } from '../helpers/cli';
import { tmpDir } from '../helpers/tmp';

const t = tmpDir('oklinux-ls-imports-');
afterAll(() => t.cleanup());

/** Modules `ls` must not load, each with why. Paths relative to the repository. */
const NOT_FOR_LS: [RegExp, string][] = [
  [/^node_modules\/zod\//, 'zod: vms:list takes no input, so nothing is validated'],
  [/^src-main\/contract\/(schemas|channels|validate|index)\.ts$/, 'the contract schemas (built with zod)'],
  [/^src-main\/core\/(download|catalog|images|extract|remote)\//, 'downloads, catalog, images: not listed by ls'],
  [/^src-main\/core\/vm\/(plan|prepare-root|create|to-disk|supervise|supervise-main)\.ts$/, 'starting a VM'],
  [/^src-main\/(host|electron)\//, 'the front ends'],
  [/^node_modules\/(tar|undici|ws|node-pty|@matrixai)\//, 'packages ls has no use for'],
];

describe('oklinux ls', () => {
  it('loads neither zod nor the contract schemas, nor any engine part that listing VMs does not use', async () => {
    const log = path.join(t.dir, 'loaded.txt');
    const r = await runCli(['ls'], {
      env: {
        OKLINUX_HOME: path.join(t.dir, 'home'),
        OKLINUX_USE_DIST: '0',
        RECORD_LOADS_TO: log,
        NODE_OPTIONS: `--import ${path.join(REPO, 'test/helpers/record-loads.mjs')}`,
      },
    });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^No VMs yet/);
    // node_modules may be a link to another checkout's: name packages from their node_modules/ on
    const loaded = fs
      .readFileSync(log, 'utf8')
      .split('\n')
      .filter((u) => u.startsWith('file://'))
      .map((u) => {
        const p = decodeURIComponent(new URL(u).pathname);
        const nm = p.lastIndexOf('/node_modules/');
        return nm >= 0 ? p.slice(nm + 1) : path.relative(REPO, p);
      });
    // the path it should take, so that a renamed module fails here rather than passing unseen
    for (const m of ['src-main/cli/commands/vms.ts', 'src-main/core/engine.ts', 'src-main/core/vm/manager.ts'])
      expect(loaded).toContain(m);
    expect(loaded.some((m) => m.startsWith('node_modules/better-sqlite3/'))).toBe(true);
    const bad = loaded.flatMap((m) => NOT_FOR_LS.filter(([re]) => re.test(m)).map(([, why]) => `${m}: ${why}`));
    expect(bad).toEqual([]);
  });
});
