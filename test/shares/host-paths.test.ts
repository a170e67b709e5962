/**
 * Which host folders a guest may be given (issue #9, items 3a and 7), through the engine (the
 * dispatch every transport uses) and the real `oklinux` CLI:
 * - no share is, lies inside, or contains the data directory, however it is reached (a
 *   symlink, a bind mount), neither when added nor at start;
 * - no --root-dir is "/", a system directory, the home directory, or a folder holding the
 *   data directory, when created or at start (before anything is written into it).
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '@core/engine';
import { which } from '@core/host-tools';
import { runCli } from '../helpers/cli';
import { tmpDir } from '../helpers/tmp';
import { processesMentioning, vmEnv } from '../helpers/vm';
import { NOBODY, isRoot, requireRoot } from './unprivileged';

const t = tmpDir('oklinux-hostpaths-');
const home = path.join(t.dir, 'data'); // OKLINUX_HOME
const userHome = path.join(t.dir, 'user'); // HOME
const links = path.join(t.dir, 'links');
const okDir = path.join(t.dir, 'ok');
const bind = path.join(t.dir, 'bind');
let bound = false;
const env = { ...vmEnv(home), HOME: userHome };
const cli = (...args: string[]) => runCli(args, { env });
let engine: Engine;
let data: string; // realpath of the data directory

/** The engine's answer to a call: its result, or its error envelope. */
async function call(channel: string, payload: unknown): Promise<{ code?: string; message?: string; result?: unknown }> {
  const env = await engine.call(channel, payload, 'local');
  return 'error' in env ? env.error : { result: env.result };
}

beforeAll(async () => {
  for (const d of [userHome, links, okDir, path.join(okDir, 'sub')]) fs.mkdirSync(d, { recursive: true });
  engine = new Engine({ home, env });
  data = fs.realpathSync(home);
  fs.mkdirSync(path.join(home, 'vms', 'x'), { recursive: true });
  fs.symlinkSync(home, path.join(links, 'data'));
  fs.symlinkSync(t.dir, path.join(links, 'parent'));
  fs.symlinkSync(path.join(home, 'vms'), path.join(links, 'sub'));
  fs.symlinkSync(okDir, path.join(links, 'ok'));
  await engine.invoke('vms:create', { name: 'v', image: 'k' });
  if (isRoot) {
    fs.mkdirSync(bind);
    bound = spawnSync('mount', ['--bind', home, bind]).status === 0;
  }
});

afterAll(async () => {
  await engine?.close();
  for (const p of processesMentioning(home)) process.kill(p.pid, 'SIGKILL');
  if (bound) spawnSync('umount', [bind]);
  t.cleanup();
});

describe('shares of the data directory (item 3a)', () => {
  const refused = () => [
    [home, 'is the okLinux data directory'],
    [t.dir, `contains the okLinux data directory ${data}`],
    [path.join(home, 'vms'), `is inside the okLinux data directory ${data}`],
    [path.join(links, 'data'), `(which leads to ${data}) is the okLinux data directory`],
    [path.join(links, 'parent'), `contains the okLinux data directory ${data}`],
    [path.join(links, 'sub'), `is inside the okLinux data directory ${data}`],
  ];

  it('refuses the data directory, a folder holding it, a folder in it, and links to each (engine)', async () => {
    for (const [dir, why] of refused()) {
      for (const readOnly of [false, true]) {
        const r = await call('shares:add', { vm: 'v', hostPath: dir, readOnly });
        expect(r.code, dir).toBe('INVALID_INPUT');
        expect(r.message, dir).toContain(why);
        expect(r.message).toMatch(
          /run code on this computer: (share a subfolder that does not hold it|choose a folder outside it)/,
        );
      }
    }
    expect(await engine.invoke('shares:list', { vm: 'v' })).toEqual([]);
  });

  it('refuses a bind mount of the data directory', async () => {
    requireRoot('mount --bind');
    expect(bound, 'mount --bind of the data directory failed').toBe(true);
    const r = await call('shares:add', { vm: 'v', hostPath: bind });
    expect(r.code).toBe('INVALID_INPUT');
    expect(r.message).toContain('is the okLinux data directory');
  });

  it('refuses a bind mount of a folder holding the data directory, and a folder with the data directory mounted under it', async () => {
    requireRoot('mount --bind');
    const parentBind = path.join(t.dir, 'parent-bind');
    const nest = path.join(t.dir, 'nest');
    fs.mkdirSync(parentBind);
    fs.mkdirSync(path.join(nest, 'deep', 'd'), { recursive: true });
    const mounted: string[] = [];
    try {
      // parent-bind shows t.dir (which holds the data dir) under another name; nest/deep/d shows the data dir
      expect(spawnSync('mount', ['--bind', t.dir, parentBind]).status).toBe(0);
      mounted.push(parentBind);
      expect(spawnSync('mount', ['--bind', home, path.join(nest, 'deep', 'd')]).status).toBe(0);
      mounted.push(path.join(nest, 'deep', 'd'));
      for (const dir of [parentBind, nest, path.join(nest, 'deep')]) {
        for (const readOnly of [false, true]) {
          const r = await call('shares:add', { vm: 'v', hostPath: dir, readOnly });
          expect(r.code, dir).toBe('INVALID_INPUT');
          expect(r.message, dir).toContain(`${dir} contains the okLinux data directory ${data}`);
        }
      }
    } finally {
      for (const m of mounted.reverse()) spawnSync('umount', [m]);
    }
    expect(await engine.invoke('shares:list', { vm: 'v' })).toEqual([]);
  });

  it('refuses them through the real CLI too: exit 2, naming the data directory and suggesting a subfolder', async () => {
    const parent = await cli('share', 'add', 'v', t.dir);
    expect(parent.code, parent.stderr).toBe(2);
    expect(parent.stderr).toContain(`contains the okLinux data directory ${data}`);
    expect(parent.stderr).toContain(
      `share a subfolder that does not hold it instead, e.g. ${path.join(t.dir, 'projects')}`,
    );
    const link = await cli('share', 'add', 'v', path.join(links, 'data'), '--ro');
    expect(link.code, link.stderr).toBe(2);
    expect(link.stderr).toContain(`${path.join(links, 'data')} (which leads to ${data}) is the okLinux data directory`);
    const inside = await cli('share', 'add', 'v', path.join(home, 'vms'));
    expect(inside.code).toBe(2);
    expect(inside.stderr).toContain('is inside the okLinux data directory');
  });

  it('still shares an ordinary folder, stored as its realpath', async () => {
    const viaLink = await engine.invoke('shares:add', { vm: 'v', hostPath: path.join(links, 'ok') });
    expect(viaLink).toMatchObject({ tag: 'ok', hostPath: fs.realpathSync(okDir), guestPath: '/mnt/ok' });
    // the same folder again, through its link: one share per folder
    const again = await call('shares:add', { vm: 'v', hostPath: okDir, tag: 'again' });
    expect(again.code).toBe('ALREADY_EXISTS');
    // a folder inside it is refused while the guest can write "ok" (it could swap sub for a link)...
    const nested = await cli('share', 'add', 'v', path.join(okDir, 'sub'), '--json');
    expect(nested.code).toBe(2);
    expect((JSON.parse(nested.stdout) as { error: { message: string } }).error.message).toContain(
      'lies inside the share "ok" of the VM "v"',
    );
    // ...and shared once "ok" is gone, by the real CLI, as its realpath
    await engine.invoke('shares:remove', { vm: 'v', tag: 'ok' });
    const sub = await cli('share', 'add', 'v', path.join(okDir, 'sub'), '--json');
    expect(sub.code, sub.stderr).toBe(0);
    expect(JSON.parse(sub.stdout)).toMatchObject({ tag: 'sub', hostPath: path.join(fs.realpathSync(okDir), 'sub') });
    await engine.invoke('shares:remove', { vm: 'v', tag: 'sub' });
    await engine.invoke('shares:add', { vm: 'v', hostPath: path.join(links, 'ok') });
  });
});

describe('writable shares of what the host runs', () => {
  it('refuses a writable share of a system directory or of a folder holding the VMM; read-only is fine', async () => {
    for (const dir of ['/usr/share', '/etc', '/usr/lib']) {
      const r = await call('shares:add', { vm: 'v', hostPath: dir, tag: 'sys' });
      expect(r.code, dir).toBe('INVALID_INPUT');
      expect(r.message).toMatch(/is (inside )?the system directory \/(usr|etc)/);
      expect(r.message).toContain('could replace programs this computer runs. Share it read-only (--ro)');
    }
    const tools = path.join(t.dir, 'tools');
    fs.mkdirSync(tools);
    fs.writeFileSync(path.join(tools, 'bldy'), '#!/bin/sh\necho "bldy 0.0 (stand-in)"\n', { mode: 0o755 });
    await engine.invoke('settings:set', { bldyPath: path.join(tools, 'bldy') });
    try {
      const r = await call('shares:add', { vm: 'v', hostPath: tools });
      expect(r.code).toBe('INVALID_INPUT');
      expect(r.message).toContain(`holds ${path.join(tools, 'bldy')}, which okLinux runs`);
      const cliR = await cli('share', 'add', 'v', tools);
      expect(cliR.code).toBe(2);
      expect(cliR.stderr).toContain('which okLinux runs');
      const ro = await engine.invoke('shares:add', { vm: 'v', hostPath: tools, readOnly: true });
      expect(ro).toMatchObject({ tag: 'tools', readOnly: true });
      // and it cannot be made writable later
      const rw = await call('shares:update', { vm: 'v', tag: 'tools', readOnly: false });
      expect(rw.code).toBe('INVALID_INPUT');
      await engine.invoke('shares:remove', { vm: 'v', tag: 'tools' });
    } finally {
      await engine.invoke('settings:set', { bldyPath: null });
    }
    const ro = await engine.invoke('shares:add', { vm: 'v', hostPath: '/usr/share', readOnly: true, tag: 'sys' });
    expect(ro).toMatchObject({ hostPath: '/usr/share', readOnly: true });
    await engine.invoke('shares:remove', { vm: 'v', tag: 'sys' });
  });
});

describe('guest-writable shares of code the host runs (review of #9)', () => {
  it('refuses a writable share that is or holds a PATH folder (a planted qemu-system-x86_64 would run there)', async () => {
    const pathBin = path.join(t.dir, 'path-owner', 'bin');
    fs.mkdirSync(pathBin, { recursive: true });
    const pathEnv = { ...env, PATH: `${pathBin}${path.delimiter}${process.env.PATH}` };
    const e2 = new Engine({ home, env: pathEnv });
    try {
      for (const dir of [pathBin, path.dirname(pathBin)]) {
        const env2 = await e2.call('shares:add', { vm: 'v', hostPath: dir }, 'local');
        expect('error' in env2 && env2.error.code, dir).toBe('INVALID_INPUT');
        expect('error' in env2 && env2.error.message, dir).toContain(
          `${pathBin}, a folder on PATH whose programs this computer runs`,
        );
      }
      // the CLI with that PATH says the same (exit 2); read-only is fine on QEMU
      const r = await runCli(['share', 'add', 'v', path.dirname(pathBin)], { env: pathEnv });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('a folder on PATH');
      const ro = await e2.invoke('shares:add', { vm: 'v', hostPath: pathBin, readOnly: true });
      expect(ro.readOnly).toBe(true);
      await e2.invoke('shares:remove', { vm: 'v', tag: ro.tag });
    } finally {
      await e2.close();
    }
  });

  it('also when the PATH folder is a link inside the share today, or not made yet under a linked parent', async () => {
    const base = path.join(t.dir, 'path-tricks');
    const s2 = path.join(base, 's2');
    const elsewhere = path.join(base, 'elsewhere');
    fs.mkdirSync(s2, { recursive: true });
    fs.mkdirSync(elsewhere);
    fs.symlinkSync(elsewhere, path.join(s2, 'bin')); // the guest could replace the link with a real folder
    fs.mkdirSync(path.join(base, 'var', 'home', 'u'), { recursive: true });
    fs.symlinkSync(path.join(base, 'var', 'home'), path.join(base, 'homelink')); // as Silverblue's /home
    const missing = path.join(base, 'homelink', 'u', 'bin'); // on PATH, not made yet
    const pathEnv = { ...env, PATH: [path.join(s2, 'bin'), missing, process.env.PATH].join(path.delimiter) };
    const e2 = new Engine({ home, env: pathEnv });
    try {
      for (const [dir, why] of [
        [s2, `contains ${path.join(s2, 'bin')}, a folder on PATH`],
        [path.join(base, 'homelink', 'u'), `contains ${path.join(base, 'var', 'home', 'u', 'bin')}, a folder on PATH`],
      ]) {
        const r = await e2.call('shares:add', { vm: 'v', hostPath: dir }, 'local');
        expect('error' in r && r.error.message, dir).toContain(why);
      }
    } finally {
      await e2.close();
    }
  });

  it('finds programs only in absolute PATH folders (a relative entry would search the current folder)', () => {
    const cwdBin = path.join(t.dir, 'cwd-bin');
    fs.mkdirSync(cwdBin);
    fs.writeFileSync(path.join(cwdBin, 'qemu-system-x86_64'), '#!/bin/sh\n', { mode: 0o755 });
    const was = process.cwd();
    process.chdir(cwdBin);
    try {
      expect(which('qemu-system-x86_64', `.${path.delimiter}`)).toBeNull();
      expect(which('qemu-system-x86_64', cwdBin)).toBe(path.join(cwdBin, 'qemu-system-x86_64'));
    } finally {
      process.chdir(was);
    }
  });

  it('refuses a share inside a folder another guest (or this one) can write, whose path it could swap for a link', async () => {
    const outer = path.join(t.dir, 'outer');
    fs.mkdirSync(path.join(outer, 'child'), { recursive: true });
    await engine.invoke('vms:create', { name: 'q', image: 'k' });
    try {
      await engine.invoke('shares:add', { vm: 'q', hostPath: outer, tag: 'outer' });
      for (const [vm, readOnly] of [
        ['v', true],
        ['v', false],
        ['q', true],
      ] as const) {
        const r = await call('shares:add', { vm, hostPath: path.join(outer, 'child'), readOnly });
        expect(r.code).toBe('INVALID_INPUT');
        expect(r.message).toContain(`lies inside the share "outer" of the VM "q" (${outer}), which a guest can write`);
      }
    } finally {
      await engine.invoke('vms:remove', { name: 'q' });
    }
  });

  it("refuses a writable share of okLinux's own code (its package folder, node_modules, resources)", async () => {
    const repo = path.resolve('.');
    for (const dir of [
      repo,
      path.join(repo, 'src-main'),
      path.join(repo, 'node_modules'),
      path.join(repo, 'resources'),
    ]) {
      const r = await call('shares:add', { vm: 'v', hostPath: dir, tag: 'code' });
      expect(r.code, dir).toBe('INVALID_INPUT');
      expect(r.message, dir).toContain("okLinux's own code");
    }
  });

  it('treats a read-only share of a bldy VM as writable: bldy cannot keep it read-only on the host', async () => {
    await engine.invoke('vms:create', { name: 'vb', image: 'k', backend: 'bldy' });
    try {
      const r = await call('shares:add', { vm: 'vb', hostPath: '/usr', readOnly: true });
      expect(r.code).toBe('INVALID_INPUT');
      expect(r.message).toMatch(/(is|contains) the system directory \/usr/);
      expect(r.message).toContain('bldy cannot keep a share read-only on the host');
      expect(r.message).toContain('use --backend qemu for this VM');
      // the same share on a QEMU VM is fine read-only
      const ok = await engine.invoke('shares:add', { vm: 'v', hostPath: '/usr', readOnly: true, tag: 'usr' });
      expect(ok.readOnly).toBe(true);
      await engine.invoke('shares:remove', { vm: 'v', tag: 'usr' });
    } finally {
      await engine.invoke('vms:remove', { name: 'vb' });
    }
  });
});

describe('a share or root turned into a link after it was accepted (items 3a, 7)', () => {
  it('is refused at start, before any VMM runs or anything is written', async () => {
    const kernel = path.join(t.dir, 'vmlinuz');
    fs.writeFileSync(kernel, 'never booted: every start here is refused first\n');
    await engine.invoke('images:import', { path: kernel, name: 'k' });
    const moved = path.join(t.dir, 'moved');
    fs.mkdirSync(moved);
    await engine.invoke('vms:create', { name: 'late', image: 'k', accel: 'tcg' });
    await engine.invoke('shares:add', { vm: 'late', hostPath: moved });
    // the folder becomes a link to the data directory
    fs.rmdirSync(moved);
    fs.symlinkSync(home, moved);
    const r = await call('vms:start', { name: 'late' });
    expect(r.code).toBe('INVALID_INPUT');
    expect(r.message).toContain(`shared folder ${moved} now leads to ${data}`);
    expect(r.message).toContain('remove the share and add it again');
    // a link to an ordinary folder is refused the same way (okLinux does not follow it)
    fs.unlinkSync(moved);
    fs.symlinkSync(okDir, moved);
    expect((await call('vms:start', { name: 'late' })).message).toContain(`now leads to ${fs.realpathSync(okDir)}`);
    expect((await engine.invoke('vms:get', { name: 'late' })).state).toBe('stopped');
    expect(processesMentioning(home)).toEqual([]);

    // a --root-dir that becomes a link to the user's home: nothing is written there
    const root = path.join(t.dir, 'root');
    fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
    await engine.invoke('vms:create', { name: 'rooted', image: 'k', accel: 'tcg', rootDir: root });
    fs.renameSync(root, path.join(t.dir, 'root-was'));
    fs.mkdirSync(path.join(userHome, 'bin'), { recursive: true });
    fs.writeFileSync(path.join(userHome, 'bin', 'sh'), '#!/bin/true\n', { mode: 0o755 });
    fs.symlinkSync(userHome, root);
    const rr = await call('vms:start', { name: 'rooted' });
    expect(rr.code).toBe('INVALID_INPUT');
    expect(rr.message).toContain(`--root-dir ${root} now leads to ${fs.realpathSync(userHome)}`);
    expect(fs.existsSync(path.join(userHome, 'sbin'))).toBe(false);
    expect(fs.existsSync(path.join(userHome, 'etc'))).toBe(false);
    expect(processesMentioning(home)).toEqual([]);
  });
});

describe('--root-dir (item 7)', () => {
  it('refuses /, system directories, $HOME, the data directory through a link, and a folder holding it (exit 2)', async () => {
    const cases: [string, string][] = [
      ['/', 'is the host\'s root directory "/"'],
      ['/etc', 'is the system directory /etc'],
      ['/usr/share', 'is inside the system directory /usr'],
      ['/var', 'is the system directory /var'],
      ['/home', 'is the system directory /home'],
      [userHome, 'is your home directory'],
      [path.join(links, 'data'), `(which leads to ${data}) is the okLinux data directory`],
      [t.dir, `contains the okLinux data directory ${data}`],
      [path.join(links, 'parent'), `contains the okLinux data directory ${data}`],
      [path.join(home, 'vms', 'x'), 'is inside the okLinux data directory'],
    ];
    for (const [dir, why] of cases) {
      const r = await cli('create', 'r', '--image', 'k', '--root-dir', dir);
      expect(r.code, `${dir}: ${r.stderr}`).toBe(2);
      expect(r.stderr, dir).toContain(`--root-dir ${dir}`);
      expect(r.stderr, dir).toContain(why);
      expect(r.stderr).toContain('make an empty folder for the VM');
    }
    expect((await engine.invoke('vms:list', {})).map((v) => v.name)).not.toContain('r');
  });

  it('refuses a system directory for what it is, not for its modes, as an unprivileged user', async () => {
    requireRoot('acting as nobody');
    fs.chmodSync(t.dir, 0o755); // mkdtemp made it 0700
    const nb = path.join(t.dir, 'nobody');
    fs.mkdirSync(nb);
    fs.chownSync(nb, NOBODY, NOBODY);
    const r = await runCli(['create', 'r', '--image', 'k', '--root-dir', '/etc'], {
      env: { ...vmEnv(path.join(nb, 'data')), HOME: nb },
      uid: NOBODY,
    });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('--root-dir /etc is the system directory /etc');
    expect(r.stderr).not.toContain('chmod');
  });

  it('refuses them through the engine too', async () => {
    for (const dir of ['/', '/etc', userHome, path.join(links, 'parent')]) {
      const r = await call('vms:create', { name: 'r', image: 'k', rootDir: dir });
      expect(r.code, dir).toBe('INVALID_INPUT');
    }
  });

  it('takes an ordinary folder, and stores its realpath', async () => {
    const mine = path.join(t.dir, 'my root');
    fs.mkdirSync(mine);
    fs.symlinkSync(mine, path.join(links, 'mine'));
    const r = await cli('create', 'r', '--image', 'k', '--root-dir', path.join(links, 'mine'), '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ name: 'r', rootDir: fs.realpathSync(mine) });
  });
});
