/**
 * Remote 9p shares through the engine (shares:addRemote, which the CLI, IPC and WebSocket reach), with
 * SQLite on disk: the URL forms, the VM's network, tags and guest paths shared with folder shares, the
 * state `share ls` shows, and `share rm`/`share set`. Booting them is test/vm/remote9p.test.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Share } from '@contract';
import { Engine } from '@core/engine';
import { runCli } from '../helpers/cli';
import { tmpDir } from '../helpers/tmp';
import { vmEnv } from '../helpers/vm';

const t = tmpDir('oklinux-remoteshare-');
const home = path.join(t.dir, 'data');
const env = vmEnv(home);
const cli = (...args: string[]) => runCli(args, { env });
let engine: Engine;

async function fails(payload: Record<string, unknown>): Promise<{ code?: string; message?: string }> {
  const r = await engine.call('shares:addRemote', payload, 'local');
  expect('error' in r, JSON.stringify(payload)).toBe(true);
  return 'error' in r ? r.error : {};
}

beforeAll(async () => {
  fs.mkdirSync(path.join(t.dir, 'srv'));
  engine = new Engine({ home, env });
  await engine.invoke('vms:create', { name: 'v', image: 'k', net: 'restricted' });
  await engine.invoke('vms:create', { name: 'dark', image: 'k', net: 'none' });
  await engine.invoke('vms:create', { name: 'tapped', image: 'k', net: 'tap:okt0' });
});

afterAll(async () => {
  await engine?.close();
  t.cleanup();
});

describe('shares:addRemote', () => {
  it('stores the canonical URL (port 564 written out), a tag from the aname, /mnt/<tag>, idle while stopped', async () => {
    const s = await engine.invoke('shares:addRemote', { vm: 'v', url: '9p://127.0.0.1/srv/data/' });
    expect(s).toEqual({
      vm: 'v',
      tag: 'data',
      hostPath: '9p://127.0.0.1:564/srv/data',
      readOnly: false,
      guestPath: '/mnt/data',
      pending: false,
      remote: { url: '9p://127.0.0.1:564/srv/data', state: 'idle', problem: null },
    });
    const again = await fails({ vm: 'v', url: '9p://127.0.0.1:564/srv/data' });
    expect(again).toMatchObject({
      code: 'ALREADY_EXISTS',
      message: expect.stringMatching(/already shared with the VM "v" \(tag "data"\)/),
    });
  });

  it('shares tags and guest paths with folder shares, and their layout rules', async () => {
    const local = await engine.invoke('shares:add', { vm: 'v', hostPath: path.join(t.dir, 'srv') });
    expect(local.tag).toBe('srv');
    const r = await engine.invoke('shares:addRemote', { vm: 'v', url: '9p://10.1.2.3:5640/x/srv', readOnly: true });
    expect(r).toMatchObject({ tag: 'srv-2', guestPath: '/mnt/srv-2', readOnly: true });
    expect(await fails({ vm: 'v', url: '9p://h/y', tag: 'srv' })).toMatchObject({ code: 'ALREADY_EXISTS' });
    expect(await fails({ vm: 'v', url: '9p://h/z', guestPath: '/mnt/data/in' })).toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringMatching(/mount points cannot be nested/),
    });
    // a folder share may not take a remote share's tag either
    fs.mkdirSync(path.join(t.dir, 'more', 'data'), { recursive: true });
    expect((await engine.invoke('shares:add', { vm: 'v', hostPath: path.join(t.dir, 'more', 'data') })).tag).toBe(
      'data-2',
    );
  });

  it('refuses bad URLs naming the form, and VMs without a user-mode network naming the fix', async () => {
    expect(await fails({ vm: 'v', url: '9p://127.0.0.1:0/x' })).toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringMatching(/invalid port "0" \(1-65535\); write it as 9p:\/\/HOST\[:PORT\]\/ANAME/),
    });
    expect(await fails({ vm: 'v', url: 'nfs://h/x' })).toMatchObject({ code: 'UNSUPPORTED' });
    expect(await fails({ vm: 'dark', url: '9p://127.0.0.1/x' })).toMatchObject({
      message: expect.stringMatching(/has no network \(--net none\), so it cannot mount a remote share/),
    });
    expect(await fails({ vm: 'tapped', url: '9p://127.0.0.1/x' })).toMatchObject({
      message: expect.stringMatching(/TAP device okt0; okLinux's remote-share relay needs QEMU user-mode networking/),
    });
  });

  it('share ls --json lists them with their state; set --ro and rm work on them', async () => {
    const ls = await cli('share', 'ls', 'v', '--json');
    expect(ls.code, ls.stderr).toBe(0);
    const list = (JSON.parse(ls.stdout) as unknown[]).map((s) => Share.parse(s));
    expect(list.map((s) => [s.tag, s.remote?.state ?? 'local'])).toEqual([
      ['srv', 'local'],
      ['data-2', 'local'],
      ['data', 'idle'],
      ['srv-2', 'idle'],
    ]);
    const set = await cli('share', 'set', 'v', 'data', '--ro', '--json');
    expect(Share.parse(JSON.parse(set.stdout))).toMatchObject({ tag: 'data', readOnly: true });
    const human = await cli('share', 'ls', 'v');
    expect(human.stdout).toMatch(/data +9p:\/\/127\.0\.0\.1:564\/srv\/data +\/mnt\/data +ro/);
    expect((await cli('share', 'rm', 'v', 'srv-2')).code).toBe(0);
    expect((await engine.invoke('shares:list', { vm: 'v' })).map((s) => s.tag)).toEqual(['srv', 'data-2', 'data']);
  });
});
