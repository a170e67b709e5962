/**
 * The packaged app's supervisor path: main.ts, started with
 * `--oklinux-supervise <plan>` (mocked electron), runs only a plan the engine
 * signed under the data directory's run/. Forged plans end in app.exit(1) with
 * the reason on stderr (the supervisor.log), and their bin never runs.
 */
import fs from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { planWorld, type PlanWorld } from '../helpers/plans';
import { tmpDir } from '../helpers/tmp';
import type { app as MockApp } from './electron-mock';

vi.mock(import('electron'), async () => (await import('./electron-mock')).electronModule());

const t = tmpDir('oklinux-esup-');
const saved = { argv: process.argv, home: process.env.OKLINUX_HOME };
let w: PlanWorld;

beforeAll(() => {
  w = planWorld(t.dir);
  process.env.OKLINUX_HOME = w.home;
});
afterEach(() => {
  process.argv = saved.argv;
  vi.restoreAllMocks();
});
afterAll(() => {
  if (saved.home === undefined) delete process.env.OKLINUX_HOME;
  else process.env.OKLINUX_HOME = saved.home;
  t.cleanup();
});

/** Load main.ts as Electron would with the flag; resolves with app.exit's code and what went to stderr. */
async function superviseInElectron(plan: string): Promise<{ code: unknown; stderr: string }> {
  let stderr = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  process.argv = ['/opt/okLinux/oklinux-desktop', '--oklinux-supervise', plan];
  vi.resetModules(); // main.ts acts when it loads
  const { app } = (await import('electron')) as unknown as { app: typeof MockApp };
  app.exit.mockClear();
  await import('../../src-main/electron/main');
  await vi.waitFor(() => expect(app.exit).toHaveBeenCalled(), { timeout: 30_000 });
  return { code: app.exit.mock.calls[0]![0], stderr };
}

describe('--oklinux-supervise', () => {
  it('refuses every forged plan: exit 1, the reason on stderr, nothing run', async () => {
    for (const c of w.bad) {
      const r = await superviseInElectron(c.file);
      expect(r.code, c.name).toBe(1);
      expect(r.stderr, c.name).toContain(`Refused the launch plan ${c.file}`);
      expect(r.stderr, c.name).toMatch(c.refusal);
      expect(fs.existsSync(w.marker), `${c.name}: its bin ran`).toBe(false);
      vi.restoreAllMocks();
    }
  });

  it('runs a plan the engine signed', async () => {
    const r = await superviseInElectron(w.good);
    expect(r.code, `stderr: ${r.stderr}`).toBe(0);
    expect(fs.existsSync(w.marker)).toBe(true);
  });
});
