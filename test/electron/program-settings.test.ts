/**
 * A setting that names a program okLinux runs (bldyPath), set from the desktop
 * app's own page over IPC with a real engine: only a file nobody else can
 * change, that runs `--version`, is accepted, and its realpath is stored. Every
 * refusal leaves the stored value as it was. Files owned by another user are
 * made with chown to nobody (65534), so this needs root, as CI has.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { IpcMain, WebContents } from 'electron';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '@core/engine';
import { registerIpc } from '../../src-main/electron/ipc';
import { tmpDir } from '../helpers/tmp';
import { APP_FRAME, ipcMain } from './electron-mock';

const NOBODY = 65534;
const t = tmpDir('oklinux-program-');
const dir = path.join(t.dir, 'programs');
let engine: Engine;

const WORKS = '#!/bin/sh\necho "bldy 1.0-test"\n';

/** A script in `dir` (or `where`) with `mode`, optionally handed to another owner. */
function script(name: string, mode: number, body = WORKS, where = dir): string {
  const file = path.join(where, name);
  fs.writeFileSync(file, body);
  fs.chmodSync(file, mode);
  return file;
}

async function setBldy(value: string | null): Promise<unknown> {
  return ipcMain.invoke('settings:set', { bldyPath: value }, APP_FRAME);
}

const stored = async (): Promise<string | null> => (await engine.invoke('settings:get', {})).bldyPath;

beforeAll(() => {
  expect(process.getuid?.(), 'files owned by another user are made with chown: run as root, as CI does').toBe(0);
  fs.mkdirSync(dir, { mode: 0o755 });
  engine = new Engine({
    home: path.join(t.dir, 'home'),
    env: { ...process.env, OKLINUX_GITHUB_API: 'http://127.0.0.1:9' },
  });
  registerIpc({
    ipcMain: ipcMain as unknown as IpcMain,
    engine,
    pickFolders: (_sender: WebContents) => Promise.resolve([]),
  });
});

afterAll(async () => {
  await engine.close();
  t.cleanup();
});

describe('bldyPath from the desktop app', () => {
  it('accepts a 0755 script owned by root whose --version works, and stores its realpath', async () => {
    const good = script('bldy', 0o755);
    const link = path.join(t.dir, 'bldy-link');
    fs.symlinkSync(good, link);
    expect(await setBldy(link)).toMatchObject({ result: { bldyPath: good } });
    expect(await stored()).toBe(good);
    expect(await setBldy(null)).toMatchObject({ result: { bldyPath: null } });
    expect(await setBldy(good)).toMatchObject({ result: { bldyPath: good } });
  });

  it('refuses what another user could change, what is not a program, and what does not run', async () => {
    const before = await stored();
    expect(before).toBe(path.join(dir, 'bldy'));

    const foreign = script('foreign', 0o755);
    fs.chownSync(foreign, NOBODY, NOBODY);
    const worldDir = path.join(t.dir, 'world-writable');
    fs.mkdirSync(worldDir);
    fs.chmodSync(worldDir, 0o777);
    const nobodysDir = path.join(t.dir, 'nobodys');
    fs.mkdirSync(nobodysDir, { mode: 0o755 });
    const inNobodysDir = script('bldy', 0o755, WORKS, nobodysDir);
    fs.chownSync(nobodysDir, NOBODY, NOBODY);
    const worldWritable = script('world', 0o757);
    const linkToWorld = path.join(t.dir, 'link-to-world');
    fs.symlinkSync(worldWritable, linkToWorld);
    const linkToForeign = path.join(t.dir, 'link-to-foreign');
    fs.symlinkSync(foreign, linkToForeign);

    const cases: [string, RegExp][] = [
      [
        script('group', 0o775),
        /group\.? is writable by its group, who could change what okLinux runs\. Run "chmod go-w /,
      ],
      [worldWritable, /world is writable by others, who could change what okLinux runs/],
      [linkToWorld, new RegExp(`${worldWritable} is writable by others`)],
      [foreign, /foreign is owned by another user \(uid 65534\), who could change what okLinux runs\. Copy it/],
      [linkToForeign, new RegExp(`${foreign} is owned by another user \\(uid 65534\\)`)],
      [
        script('in-world-dir', 0o755, WORKS, worldDir),
        /the folder .*world-writable holding .* is writable by group and others, who could replace the program/,
      ],
      [inNobodysDir, /the folder .*nobodys holding .* is owned by another user \(uid 65534\)/],
      [dir, /programs is a folder; name the program's file itself/],
      [script('plain', 0o644), /plain is not executable\. Run "chmod 755 /],
      [
        script('fails', 0o755, '#!/bin/sh\necho "no such option" >&2\nexit 3\n'),
        /"\S+fails --version" exited with status 3: no such option, so it does not look like a working program/,
      ],
      [path.join(dir, 'missing'), /missing does not exist/],
      ['relative/bldy', /bldyPath must be an absolute path, not "relative\/bldy"/],
    ];
    for (const [file, why] of cases) {
      const reply = await setBldy(file);
      expect([file, reply]).toMatchObject([file, { error: { message: expect.stringMatching(why) } }]);
      expect(await stored()).toBe(before);
    }
    expect(await setBldy(path.join(dir, 'missing'))).toMatchObject({ error: { code: 'NOT_FOUND' } });
    expect(await setBldy(foreign)).toMatchObject({ error: { code: 'INVALID_INPUT' } });
  });

  it('gives up on a --version that does not finish within 5 s', async () => {
    const hangs = script('hangs', 0o755, '#!/bin/sh\nsleep 30\n');
    const started = Date.now();
    expect(await setBldy(hangs)).toMatchObject({
      error: { code: 'INVALID_INPUT', message: expect.stringContaining('--version" did not finish within 5 s') },
    });
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(5000);
    expect(took).toBeLessThan(15_000);
    expect(await stored()).toBe(path.join(dir, 'bldy'));
  });

  it('re-checks a stored bldyPath each time a VMM is chosen, and never runs one that fails', async () => {
    // As a database written before these checks (or a file changed since) would hold it.
    const marker = path.join(t.dir, 'evil-ran');
    const evil = script('evil', 0o757, `#!/bin/sh\ntouch '${marker}'\n`);
    engine.ctx.store.settings.set({ bldyPath: evil, backend: 'auto' });
    const doctor = await engine.invoke('system:doctor', {});
    expect(doctor.vmm).toMatchObject({ chosen: null, path: null });
    expect(doctor.vmm.reason).toContain(
      `the configured bldy path is not used (bldyPath: ${evil} is writable by others`,
    );
    // no network: with NAT, auto picks QEMU (bldy has no user-mode networking) and bldy would not be in play
    await engine.invoke('vms:create', { name: 'victim', image: 'any-image', net: 'none' });
    await expect(engine.invoke('vms:start', { name: 'victim' })).rejects.toMatchObject({
      code: 'VMM',
      message: expect.stringContaining('is writable by others'),
    });
    expect(fs.existsSync(marker)).toBe(false);
    // the same file, fixed, is used by its realpath
    fs.chmodSync(evil, 0o755);
    expect((await engine.invoke('system:doctor', {})).vmm).toMatchObject({ chosen: 'bldy', path: evil });
  });

  it("refuses a program a guest can write: in a VM's writable share, or hard-linked to a file in a VM's root", async () => {
    const before = await stored();
    const shared = path.join(t.dir, 'shared-rw');
    fs.mkdirSync(shared, { mode: 0o755 });
    const inShare = script('bldy', 0o755, WORKS, shared);
    await engine.invoke('vms:create', { name: 'guesty', image: 'k' });
    await engine.invoke('shares:add', { vm: 'guesty', hostPath: shared, tag: 'rw' });
    expect(await setBldy(inShare)).toMatchObject({
      error: {
        code: 'INVALID_INPUT',
        message: expect.stringContaining(
          `${inShare} lies in the share "rw" of the VM "guesty" (${shared}), so a guest could change it`,
        ),
      },
    });
    // a file the guest wrote into its root, hard-linked out of the data directory
    const guestFile = path.join(t.dir, 'home', 'vms', 'guesty', 'planted');
    fs.mkdirSync(path.dirname(guestFile), { recursive: true });
    fs.writeFileSync(guestFile, WORKS, { mode: 0o755 });
    const outside = path.join(dir, 'innocent-looking');
    fs.linkSync(guestFile, outside);
    expect(await setBldy(outside)).toMatchObject({
      error: { message: expect.stringMatching(/has 1 other hard link\(s\) on the disk of okLinux's data directory/) },
    });
    expect(await stored()).toBe(before);
    await engine.invoke('vms:remove', { name: 'guesty' });
  });
});
