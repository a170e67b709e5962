/**
 * Stopping a VM while its start is still downloading cancels the download and leaves it stopped.
 * A start picks its VMM before it pulls, so QEMU must be installed: without it the test fails at
 * once naming the package, and a start that ends before its download progressed fails the test
 * at once with the start's own error (it used to wait for progress for the whole test timeout).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '@core/engine';
import { OkError } from '@core/errors';
import { sha256Hex, startTestServer, testBytes, type TestServer } from '../helpers/http';
import { tmpDir } from '../helpers/tmp';
import { vmEnv } from '../helpers/vm';
import { requireQemu } from '../fixtures/guest';

const t = tmpDir('oklinux-cancel-');
const home = path.join(t.dir, 'home');
let server: TestServer;

beforeAll(async () => {
  requireQemu();
  server = await startTestServer();
  const kernel = testBytes(4 * 1024 * 1024, 7);
  server.route('/k', { body: kernel, sliceDelayMs: 40 }); // about 2.5 s for the whole file
  const manifest = {
    schema: 1,
    bundles: [
      { name: 'slow', version: '1', arch: 'x86_64', artifacts: { kernel: { url: 'k', sha256: sha256Hex(kernel) } } },
    ],
  };
  server.route('/m.json', { body: Buffer.from(JSON.stringify(manifest)) });
});

afterAll(async () => {
  await server?.close();
  t.cleanup();
});

describe('stop during a start', () => {
  it('cancels the pull, keeps the partial download for later, and leaves the VM stopped', async () => {
    const engine = new Engine({ home, env: vmEnv(home) });
    try {
      await engine.invoke('catalog:add', { location: server.url('/m.json') });
      await engine.invoke('vms:create', { name: 'slow', image: 'slow', accel: 'tcg' });
      let progressed!: () => void;
      const running = new Promise<void>((r) => (progressed = r));
      const off = engine.onEvent((e) => {
        if (e.type === 'download:progress' && e.download.bytes > 0) progressed();
      });
      const start = engine.invoke('vms:start', { name: 'slow' });
      const outcome = start.then(
        () => null,
        (e: unknown) => e,
      );
      // whichever comes first: the download's progress, or the start's end (which would be a bug here)
      const early = await Promise.race([running.then(() => null), outcome.then((e) => e ?? 'it succeeded')]);
      off();
      if (early !== null) {
        throw new Error(
          `the start ended before its download progressed: ${early instanceof Error ? early.message : String(early)}`,
        );
      }
      const stopped = await engine.invoke('vms:stop', { name: 'slow' });
      expect(stopped.state).toBe('stopped');
      const err = await outcome;
      expect(err).toBeInstanceOf(OkError);
      expect((err as OkError).code).toBe('CANCELLED');
      expect(stopped.lastError).toMatch(/cancelled/);
      const parts = fs.readdirSync(path.join(home, 'downloads'));
      expect(parts.length).toBe(1);
      expect(fs.statSync(path.join(home, 'downloads', parts[0]!)).size).toBeGreaterThan(0);
      expect(await engine.invoke('images:list', {})).toEqual([]);
    } finally {
      await engine.close();
    }
  });
});
