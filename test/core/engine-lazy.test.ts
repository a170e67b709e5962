/**
 * The engine loads each contract service's handler module, and the parts it uses, on the service's first
 * call (src-main/core/engine.ts SERVICES), so that `oklinux ls` loads neither the downloader nor tar. Each
 * service is called once here: none may fail for a part its table entry does not list.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { CHANNELS, type Envelope } from '@contract';
import { Engine } from '@core/engine';
import { tmpDir } from '../helpers/tmp';

const t = tmpDir('oklinux-engine-lazy-');
afterAll(() => t.cleanup());

/** One call per service that changes nothing (a bad payload where every call would act). */
const PROBES: Record<string, [string, unknown]> = {
  system: ['system:resolve', { name: 'none-such' }],
  settings: ['settings:get', {}],
  catalog: ['catalog:sources', {}],
  images: ['images:verify', {}],
  vmm: ['vmm:install', { bogus: true }],
  downloads: ['downloads:list', {}],
  vms: ['vms:list', {}],
  console: ['console:detach', { name: 'none-such' }],
  shares: ['shares:list', { vm: 'none-such' }],
  ports: ['ports:list', { vm: 'none-such' }],
  fs: ['fs:list', { path: t.dir }],
};

const codeOf = (env: Envelope): string | null => ('error' in env ? env.error.code : null);

describe('the engine, loading services as they are called', () => {
  it('answers a call to every service with its own parts only', async () => {
    const services = [...new Set(CHANNELS.map((c) => c.split(':')[0]!))];
    expect(Object.keys(PROBES).sort()).toEqual(services.sort());
    const engine = new Engine({ home: t.dir, env: { ...process.env, OKLINUX_GITHUB_API: 'http://127.0.0.1:9' } });
    try {
      const got: Record<string, string | null> = {};
      for (const [service, [channel, payload]] of Object.entries(PROBES)) {
        got[service] = codeOf(await engine.call(channel, payload, 'local'));
      }
      expect(got).toEqual({
        system: 'NOT_FOUND',
        settings: null,
        catalog: null,
        images: null,
        vmm: 'INVALID_INPUT',
        downloads: null,
        vms: null,
        console: null,
        shares: 'NOT_FOUND',
        ports: 'NOT_FOUND',
        fs: null,
      });
    } finally {
      await engine.close();
    }
  });

  it('still names an unknown operation', async () => {
    const engine = new Engine({ home: t.dir });
    try {
      expect(await engine.call('nope:nothing', {}, 'local')).toEqual({
        error: { code: 'INVALID_INPUT', message: 'unknown operation "nope:nothing"' },
      });
    } finally {
      await engine.close();
    }
  });
});
