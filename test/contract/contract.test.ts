import { describe, expect, expectTypeOf, it } from 'vitest';
import { AppEvent, CHANNELS, contract, validateInput, type Channel, type OkLinuxApi } from '@contract';
import { OkError } from '@contract/errors';
import { dispatch, type Handlers } from '@core/dispatch';

function rejects(channel: Channel, payload: unknown): string {
  try {
    validateInput(channel, payload);
  } catch (e) {
    expect(e).toBeInstanceOf(OkError);
    expect((e as OkError).code).toBe('INVALID_INPUT');
    return (e as OkError).message;
  }
  throw new Error(`${channel} accepted ${JSON.stringify(payload)}`);
}

describe('contract validation', () => {
  it('names each bad field', () => {
    const msg = rejects('vms:create', { name: 'bad name!', image: '', cpus: 0 });
    expect(msg).toContain('vms:create');
    expect(msg).toMatch(/name: a VM name is 1-63 letters/);
    expect(msg).toMatch(/image: an image/);
    expect(msg).toMatch(/cpus: /);
  });

  it('rejects unknown fields, wrong types and relative or hostile paths', () => {
    expect(rejects('vms:start', { name: 'dev', extra: 1 })).toMatch(/extra/);
    expect(rejects('console:resize', { name: 'dev', cols: '80', rows: 24 })).toMatch(/cols: /);
    expect(rejects('shares:add', { vm: 'dev', hostPath: 'relative/dir' })).toMatch(
      /hostPath: must be an absolute path/,
    );
    expect(rejects('shares:add', { vm: 'dev', hostPath: '/a', guestPath: '/mnt/a b' })).toMatch(/guestPath: /);
    expect(rejects('shares:add', { vm: 'dev', hostPath: '/a', guestPath: '/mnt/../etc' })).toMatch(/guestPath: .*\.\./);
    expect(rejects('shares:add', { vm: 'dev', hostPath: '/a', tag: 'x'.repeat(32) })).toMatch(/tag: /);
    expect(rejects('settings:set', { githubApi: 'not a url' })).toMatch(/githubApi: /);
    expect(rejects('vms:stop', null as unknown)).toMatch(/name: /);
    expect(rejects('nope:nothing' as Channel, {})).toMatch(/unknown operation/);
  });

  it('accepts well-formed payloads', () => {
    expect(validateInput('shares:add', { vm: 'dev', hostPath: '/srv/a b:c', readOnly: true })).toEqual({
      vm: 'dev',
      hostPath: '/srv/a b:c',
      readOnly: true,
    });
    expect(validateInput('system:doctor', undefined)).toEqual({});
  });

  it('validates events', () => {
    expect(AppEvent.safeParse({ type: 'console:data', vm: 'dev', data: 'hi' }).success).toBe(true);
    expect(AppEvent.safeParse({ type: 'console:data', vm: 'dev' }).success).toBe(false);
    expect(AppEvent.safeParse({ type: 'bogus' }).success).toBe(false);
  });

  it('names every channel <service>:<method>, and the hand-written API covers exactly the contract', () => {
    for (const c of CHANNELS) expect(c).toMatch(/^[a-z]+:[a-zA-Z]+$/);
    type ApiChannels = {
      [S in Exclude<keyof OkLinuxApi, 'onEvent'>]: `${S & string}:${keyof OkLinuxApi[S] & string}`;
    }[Exclude<keyof OkLinuxApi, 'onEvent'>];
    expectTypeOf<ApiChannels>().toEqualTypeOf<Channel>();
    expect(Object.keys(contract).length).toBe(CHANNELS.length);
  });
});

describe('dispatch envelope', () => {
  it('returns {result} or {error:{code,message}}', async () => {
    const handlers = {
      'vms:get': ({ name }: { name: string }) => {
        if (name === 'boom') throw new Error('kaboom');
        throw new OkError('NOT_FOUND', `There is no VM named "${name}".`);
      },
      'system:info': () => ({ version: '1', dataDir: '/d' }),
    } as unknown as Handlers;
    expect(await dispatch(handlers, 'system:info', {}, 'local')).toEqual({ result: { version: '1', dataDir: '/d' } });
    expect(await dispatch(handlers, 'vms:get', { name: 'x' }, 'local')).toEqual({
      error: { code: 'NOT_FOUND', message: 'There is no VM named "x".' },
    });
    expect(await dispatch(handlers, 'vms:get', { name: 'boom' }, 'local')).toEqual({
      error: { code: 'INTERNAL', message: 'kaboom' },
    });
    const bad = await dispatch(handlers, 'vms:get', { name: 7 }, 'local');
    expect(bad).toMatchObject({ error: { code: 'INVALID_INPUT' } });
  });
});
