/**
 * `oklinux rm --delete-root` (issue #9, item 8): a VM's files go first, its row only once they
 * are all gone. Modes a guest set (a mode-000 folder full of files) do not stop the owner; what
 * really cannot be removed (a busy mount point, an immutable file) keeps the VM, is named with
 * its fix, and exits 8; nothing outside the root is touched (links, mounted filesystems).
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli';
import { tmpDir } from '../helpers/tmp';
import { vmEnv } from '../helpers/vm';
import { NOBODY, isRoot, requireRoot } from '../shares/unprivileged';

const t = tmpDir('oklinux-rm-');
const home = path.join(t.dir, 'data');
const env = vmEnv(home);
const cli = (...args: string[]) => runCli(args, { env });
const outside = path.join(t.dir, 'outside.txt');
const mounts: string[] = [];
const immutable: string[] = [];

/** A guest-made root: a mode-000 folder holding files and another mode-000 folder, a link out. */
function guestRoot(root: string): void {
  fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
  fs.writeFileSync(path.join(root, 'bin', 'sh'), '#!/bin/true\n', { mode: 0o755 });
  const locked = path.join(root, 'home', 'locked');
  fs.mkdirSync(path.join(locked, 'deeper'), { recursive: true });
  fs.writeFileSync(path.join(locked, 'a.txt'), 'a');
  fs.writeFileSync(path.join(locked, 'deeper', 'b.txt'), 'b');
  fs.writeFileSync(path.join(locked, 'no-mode'), 'x', { mode: 0o000 });
  fs.symlinkSync(outside, path.join(locked, 'link-out'));
  fs.chmodSync(path.join(locked, 'deeper'), 0o000);
  fs.chmodSync(locked, 0o000);
}

const names = async (e: NodeJS.ProcessEnv = env, uid?: number): Promise<string[]> =>
  (JSON.parse((await runCli(['ls', '--json'], { env: e, uid })).stdout) as { name: string }[]).map((v) => v.name);

beforeAll(() => {
  fs.writeFileSync(outside, 'keep me\n');
});

afterAll(() => {
  for (const f of immutable) spawnSync('chattr', ['-i', f]);
  for (const m of mounts) spawnSync('umount', [m]);
  t.cleanup();
});

describe('rm --delete-root', () => {
  it('deletes a root with mode-000 folders fully, as the (unprivileged) owner, never following links', async () => {
    // as nobody when we are root (root ignores modes), else as ourselves
    const nbHome = path.join(t.dir, 'nobody');
    fs.chmodSync(t.dir, 0o755); // mkdtemp made it 0700
    fs.mkdirSync(nbHome, { mode: 0o755 });
    if (isRoot) fs.chownSync(nbHome, NOBODY, NOBODY);
    const nbEnv = { ...vmEnv(path.join(nbHome, 'data')), HOME: nbHome };
    const uid = isRoot ? NOBODY : undefined;
    const as = (...args: string[]) => runCli(args, { env: nbEnv, uid });
    const made = await as('create', 'g', '--image', 'k');
    expect(made.code, made.stderr).toBe(0);
    const root = path.join(nbHome, 'data', 'vms', 'g', 'root');
    guestRoot(root);
    if (isRoot) spawnSync('chown', ['-R', '-h', `${NOBODY}:${NOBODY}`, path.join(nbHome, 'data', 'vms')]);
    // the owner itself cannot list it
    expect(
      spawnSync('ls', [path.join(root, 'home', 'locked')], isRoot ? { uid: NOBODY, gid: NOBODY } : {}).status,
    ).not.toBe(0);

    const r = await as('rm', 'g', '--delete-root');
    expect(r.code, r.stderr).toBe(0);
    expect(fs.existsSync(path.join(nbHome, 'data', 'vms', 'g'))).toBe(false);
    expect(await names(nbEnv, uid)).toEqual([]);
    expect(fs.readFileSync(outside, 'utf8')).toBe('keep me\n');
  });

  it('keeps the VM when a mount point inside its root is busy, names it, and succeeds once it is unmounted', async () => {
    requireRoot('mounting a filesystem inside a root');
    expect((await cli('create', 'busy', '--image', 'k')).code).toBe(0);
    const root = path.join(home, 'vms', 'busy', 'root');
    guestRoot(root);
    const mnt = path.join(root, 'mnt', 'disk');
    fs.mkdirSync(mnt, { recursive: true });
    expect(spawnSync('mount', ['-t', 'tmpfs', 'oklinux-test', mnt]).status).toBe(0);
    mounts.push(mnt);
    fs.writeFileSync(path.join(mnt, 'on-the-other-fs.txt'), 'not ours to delete\n');

    const r = await cli('rm', 'busy', '--delete-root');
    expect(r.code, r.stderr).toBe(8);
    expect(r.stderr).toContain('Could not remove every file of the VM "busy", so the VM is kept');
    expect(r.stderr).toContain(`${mnt}: a filesystem is mounted there; unmount it ("umount ${mnt}")`);
    expect(r.stderr).toContain('Then run "oklinux rm busy --delete-root" again.');
    // the VM and its row stay (a new VM cannot take its name and half a root), with the reason
    const ls = JSON.parse((await cli('ls', '--json')).stdout) as { name: string; state: string; lastError: string }[];
    expect(ls.find((v) => v.name === 'busy')).toMatchObject({
      state: 'stopped',
      lastError: expect.stringContaining(mnt),
    });
    expect((await cli('create', 'busy', '--image', 'k')).code).toBe(4);
    // nothing on the mounted filesystem was touched; the rest of the root is gone
    expect(fs.readFileSync(path.join(mnt, 'on-the-other-fs.txt'), 'utf8')).toBe('not ours to delete\n');
    expect(fs.existsSync(path.join(root, 'home'))).toBe(false);

    expect(spawnSync('umount', [mnt]).status).toBe(0);
    mounts.pop();
    const again = await cli('rm', 'busy', '--delete-root');
    expect(again.code, again.stderr).toBe(0);
    expect(fs.existsSync(path.join(home, 'vms', 'busy'))).toBe(false);
    expect(await names()).not.toContain('busy');
  });

  it('keeps the VM when a file is immutable, and says how to clear it', async () => {
    requireRoot('chattr +i');
    expect((await cli('create', 'imm', '--image', 'k')).code).toBe(0);
    const root = path.join(home, 'vms', 'imm', 'root');
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    const file = path.join(root, 'etc', 'stuck');
    fs.writeFileSync(file, 'x');
    const chattr = spawnSync('chattr', ['+i', file], { encoding: 'utf8' });
    if (chattr.status !== 0) {
      throw new Error(
        `chattr +i failed (${chattr.stderr || chattr.error}): put TMPDIR on a filesystem with attributes (ext4), or install e2fsprogs`,
      );
    }
    immutable.push(file);
    const r = await cli('rm', 'imm', '--delete-root');
    expect(r.code, r.stderr).toBe(8);
    expect(r.stderr).toContain(`${file}: Operation not permitted; it may be immutable or append-only`);
    expect(r.stderr).toContain(`chattr -i -a ${file}`);
    expect(await names()).toContain('imm');
    spawnSync('chattr', ['-i', file]);
    immutable.pop();
    expect((await cli('rm', 'imm', '--delete-root')).code).toBe(0);
    expect(await names()).not.toContain('imm');
  });

  it('--keep-root removes the VM and its logs, and leaves the root as it was', async () => {
    expect((await cli('create', 'kept', '--image', 'k')).code).toBe(0);
    const dir = path.join(home, 'vms', 'kept');
    guestRoot(path.join(dir, 'root'));
    fs.writeFileSync(path.join(dir, 'console.log'), 'boot\n');
    const r = await cli('rm', 'kept', '--keep-root');
    expect(r.code, r.stderr).toBe(0);
    expect(fs.existsSync(path.join(dir, 'console.log'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'root', 'bin', 'sh'))).toBe(true);
    expect(await names()).not.toContain('kept');
  });
});
