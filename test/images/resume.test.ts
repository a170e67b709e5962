import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { OKLINUX_BIN } from '../helpers/cli';
import { sha256Hex, testBytes } from '../helpers/http';
import { publish, sandbox, type Published, type Sandbox } from './fixtures';

const MiB = 1 << 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let s: Sandbox;
beforeEach(async () => {
  s = await sandbox();
});
afterEach(() => s.close());

it('resumes with Range after the CLI doing the pull was SIGKILLed', async () => {
  const bzImage = testBytes(6 * MiB, 21);
  // The first answer is slow (64 KiB every 15 ms) and stops after 3 MiB, so the kill lands mid-transfer
  // however late it comes; the next answers are served at full speed.
  const [rel] = (await publish(s, [
    {
      kernelRelease: '6.6.90-09000-gcccccccccccc',
      commit: 'c'.repeat(40),
      publishedAt: '2025-04-01T00:40:00Z',
      bzImage,
      route: (index) => (index === 0 ? { sliceDelayMs: 15, stallAfter: 3 * MiB } : {}),
    },
  ])) as [Published];
  const size = rel.tarball.length;
  const part = path.join(s.home, 'downloads', `${sha256Hex(rel.tarball)}.part`);

  const child = spawn(process.execPath, [OKLINUX_BIN, 'pull', rel.tag], {
    env: { ...process.env, ...s.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((r) => child.on('exit', (code, sig) => r(sig ?? code)));

  // Bounded wait until the CLI has written at least 2 MiB of the tarball to its .part file.
  const has = () => fs.existsSync(part) && fs.statSync(part).size >= 2 * MiB;
  for (let i = 0; i < 600 && !has() && child.exitCode === null; i++) await sleep(25);
  expect(has(), `the pull wrote too little before the deadline; its stderr:\n${stderr}`).toBe(true);
  expect(child.kill('SIGKILL')).toBe(true);
  expect(await exited).toBe('SIGKILL');
  const kept = fs.statSync(part).size;
  expect(kept).toBeLessThan(size);

  const r = await s.cli(['pull', rel.tag]);
  expect(r.code, r.stderr).toBe(0);

  const tries = s.server.requestsTo(rel.assetPath);
  expect(tries).toHaveLength(2);
  expect(tries[0]!.headers.range).toBeUndefined();
  const resumedFrom = Number(/^bytes=(\d+)-$/.exec(tries[1]!.headers.range ?? '')?.[1]);
  expect(resumedFrom).toBe(kept);
  expect(resumedFrom).toBeGreaterThan(0);
  expect(tries[1]!.headers['if-range']).toBeDefined();
  expect(tries[1]!.status).toBe(206);
  expect(s.server.bytesServed(rel.assetPath)).toBeLessThan(1.3 * size);
  expect(fs.existsSync(part)).toBe(false);

  const stored = fs.readFileSync(path.join(s.home, 'store', 'sha256', rel.bzImageSha));
  expect(stored.equals(bzImage)).toBe(true);
  const v = await s.cli(['verify']);
  expect(v.code, v.stdout + v.stderr).toBe(0);
  expect(v.stdout).toContain('0 damaged');
});
