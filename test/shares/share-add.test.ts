/**
 * `share add` takes only what `start` can boot (issue #9, item 5): the engine's shares:add and
 * shares:update (which the CLI, IPC and WebSocket all reach) run the same layout rules as
 * `validateVmSpec` at start, so a guest path or tag that start would refuse is refused up front.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '@core/engine';
import { validateShareLayout } from '@core/shares';
import { validateVmSpec } from '@core/vmm/spec';
import { mountOptions } from '@core/shares';
import { runCli } from '../helpers/cli';
import { tmpDir } from '../helpers/tmp';
import { vmEnv } from '../helpers/vm';

const t = tmpDir('oklinux-shareadd-');
const home = path.join(t.dir, 'data');
const env = vmEnv(home);
const cli = (...args: string[]) => runCli(args, { env });
const dir = (name: string) => path.join(t.dir, name);
let engine: Engine;

async function call(channel: string, payload: unknown): Promise<{ code?: string; message?: string }> {
  const env = await engine.call(channel, payload, 'local');
  return 'error' in env ? env.error : {};
}

beforeAll(async () => {
  for (const d of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) fs.mkdirSync(dir(d));
  engine = new Engine({ home, env });
  await engine.invoke('vms:create', { name: 'v', image: 'k' });
});

afterAll(async () => {
  await engine?.close();
  t.cleanup();
});

/** Guest paths start refuses, with the words the refusal must contain. */
const BAD_GUEST_PATHS: [string, RegExp][] = [
  ['/etc', /guest path "\/etc" is a system directory the guest needs; mount the share elsewhere/],
  ['/mnt/a"b', /guest path "\/mnt\/a"b" contains whitespace, ":", a quote or a backslash/],
  ['/mnt/x/', /guest path "\/mnt\/x\/" is not normalized; write it as "\/mnt\/x"/],
  ['/proc/x', /guest path "\/proc\/x" is inside \/proc, where no mount point can be made/],
  [`/mnt/${'p'.repeat(300)}`, /is 305 bytes long; use at most 255/],
];

describe('shares:add refuses what start would refuse', () => {
  it('bad guest paths, through the engine', async () => {
    for (const [gp, why] of BAD_GUEST_PATHS) {
      const r = await call('shares:add', { vm: 'v', hostPath: dir('a'), guestPath: gp });
      expect(r.code, gp).toBe('INVALID_INPUT');
      expect(r.message, gp).toMatch(why);
      // and start refuses the same, with the same function
      expect(() => validateShareLayout([{ tag: 'a', guestPath: gp }])).toThrow(why);
    }
    expect(await engine.invoke('shares:list', { vm: 'v' })).toEqual([]);
  });

  it('bad guest paths, through the real CLI (exit 2)', async () => {
    for (const [gp, why] of BAD_GUEST_PATHS.slice(0, 3)) {
      const r = await cli('share', 'add', 'v', dir('a'), '--guest-path', gp);
      expect(r.code, `${gp}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(why);
    }
    expect(JSON.parse((await cli('share', 'ls', 'v', '--json')).stdout)).toEqual([]);
  });

  it('a second share at the same guest path or tag, and nested guest paths', async () => {
    await engine.invoke('shares:add', { vm: 'v', hostPath: dir('a'), guestPath: '/srv/data' });
    const same = await call('shares:add', { vm: 'v', hostPath: dir('b'), guestPath: '/srv/data' });
    expect(same.code).toBe('ALREADY_EXISTS');
    expect(same.message).toContain(`The share "a" (${fs.realpathSync(dir('a'))}) already mounts at /srv/data`);
    const tag = await call('shares:add', { vm: 'v', hostPath: dir('b'), tag: 'a', guestPath: '/srv/other' });
    expect(tag.code).toBe('ALREADY_EXISTS');
    expect(tag.message).toContain('already has a share tagged "a"');
    const inner = await call('shares:add', { vm: 'v', hostPath: dir('c'), guestPath: '/srv/data/inner' });
    expect(inner.code).toBe('INVALID_INPUT');
    expect(inner.message).toContain('share "c" would mount at /srv/data/inner, inside share "a" at /srv/data');
    const outer = await call('shares:add', { vm: 'v', hostPath: dir('d'), guestPath: '/srv' });
    expect(outer.code).toBe('INVALID_INPUT');
    expect(outer.message).toContain('share "a" would mount at /srv/data, inside share "d" at /srv');
    // a sibling whose name merely starts the same is not nested
    await engine.invoke('shares:add', { vm: 'v', hostPath: dir('e'), guestPath: '/srv/data2' });

    const cliSame = await cli('share', 'add', 'v', dir('f'), '--guest-path', '/srv/data');
    expect(cliSame.code).toBe(4);
    expect(cliSame.stderr).toContain('already mounts at /srv/data');
    const cliNested = await cli('share', 'add', 'v', dir('f'), '--guest-path', '/srv/data/x');
    expect(cliNested.code).toBe(2);
    expect(cliNested.stderr).toContain('mount points cannot be nested');
    expect((await engine.invoke('shares:list', { vm: 'v' })).map((s) => s.tag)).toEqual(['a', 'e']);
  });

  it('start refuses the same sets (one function): two at one path, nested', () => {
    const spec = (shares: [string, string][]) => ({
      name: 'v',
      kernelPath: '/k',
      params: [],
      cpus: 1,
      memoryMiB: 64,
      accel: 'tcg' as const,
      runDir: '/r',
      controlSocket: '/r/q.sock',
      shares: shares.map(([tag, guestPath]) => ({
        tag,
        guestPath,
        hostPath: `/h/${tag}`,
        readOnly: false,
        mountOptions: mountOptions('qemu', false),
      })),
    });
    expect(() =>
      validateVmSpec(
        spec([
          ['a', '/srv/x'],
          ['b', '/srv/x'],
        ]),
        'qemu',
      ),
    ).toThrow(/two shares mount at \/srv\/x/);
    expect(() =>
      validateVmSpec(
        spec([
          ['a', '/srv/x'],
          ['b', '/srv/x/y'],
        ]),
        'qemu',
      ),
    ).toThrow(/cannot be nested/);
    expect(() =>
      validateVmSpec(
        spec([
          ['a', '/srv/x'],
          ['b', '/srv/xy'],
        ]),
        'qemu',
      ),
    ).not.toThrow();
  });

  it('a share list that would overflow the kernel command line', async () => {
    await engine.invoke('vms:create', { name: 'long', image: 'k', append: `x=${'y'.repeat(1500)}` });
    await engine.invoke('shares:add', { vm: 'long', hostPath: dir('a'), guestPath: `/mnt/${'q'.repeat(200)}` });
    const r = await call('shares:add', { vm: 'long', hostPath: dir('b'), guestPath: `/mnt/${'r'.repeat(200)}` });
    expect(r.code).toBe('INVALID_INPUT');
    expect(r.message).toMatch(/would need a kernel command line of \d+ bytes, over the kernel's 2047/);
  });

  it('still takes a valid share, and shares:update re-checks the folder', async () => {
    const ok = await cli('share', 'add', 'v', dir('g'), '--ro', '--guest-path', '/home/user/g', '--json');
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ tag: 'g', guestPath: '/home/user/g', readOnly: true });
    await engine.invoke('shares:update', { vm: 'v', tag: 'g', readOnly: false });
    // the folder became a link since: making the share writable is refused
    fs.rmdirSync(dir('g'));
    fs.symlinkSync(dir('f'), dir('g'));
    const r = await call('shares:update', { vm: 'v', tag: 'g', readOnly: true });
    expect(r.code).toBe('INVALID_INPUT');
    expect(r.message).toContain('now leads to');
  });
});
