import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { prepareRootDir, resolveInRoot, withShares } from '@core/vm/root';
import { OkError } from '@core/errors';
import { tmpDir } from '../helpers/tmp';
import { requireRoot } from '../shares/unprivileged';

let t: ReturnType<typeof tmpDir>;
beforeEach(() => {
  t = tmpDir();
});
afterEach(() => t.cleanup());

const INIT = path.resolve('resources/guest/oklinux-init');

function usrMergedRoot(root: string): void {
  fs.mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
  fs.mkdirSync(path.join(root, 'usr/sbin'), { recursive: true });
  fs.symlinkSync('usr/bin', path.join(root, 'bin'));
  fs.symlinkSync('/usr/sbin', path.join(root, 'sbin'));
  fs.writeFileSync(path.join(root, 'usr/bin/busybox'), '#!/bin/true\n', { mode: 0o755 });
  fs.symlinkSync('/usr/bin/busybox', path.join(root, 'usr/bin/sh'));
}

describe('the 9p root directory', () => {
  it('resolves paths as a chroot would: absolute links stay inside the root', () => {
    const root = path.join(t.dir, 'root');
    usrMergedRoot(root);
    fs.mkdirSync(path.join(root, 'etc'));
    fs.symlinkSync('/../../../etc', path.join(root, 'escape'));
    expect(resolveInRoot(root, '/bin/sh')).toBe(path.join(root, 'usr/bin/busybox'));
    expect(resolveInRoot(root, '/escape')).toBe(path.join(root, 'etc'));
    expect(resolveInRoot(root, '/nope/x')).toBeNull();
  });

  it('installs oklinux-init through an /sbin symlink and writes the shares into a managed fstab block', async () => {
    const root = path.join(t.dir, 'root');
    usrMergedRoot(root);
    fs.mkdirSync(path.join(root, 'etc'));
    fs.writeFileSync(path.join(root, 'etc/fstab'), 'proc /proc proc defaults 0 0\n');
    const line = 'src /mnt/src 9p trans=virtio,version=9p2000.L,msize=131072,cache=mmap,_netdev,nofail 0 0';
    await prepareRootDir({ vm: 'v', root, tarball: null, initScript: INIT, fstabLines: [line] });
    const init = path.join(root, 'usr/sbin/oklinux-init');
    expect(fs.readFileSync(init, 'utf8')).toBe(fs.readFileSync(INIT, 'utf8'));
    expect(fs.statSync(init).mode & 0o777).toBe(0o755);
    const fstab = fs.readFileSync(path.join(root, 'etc/fstab'), 'utf8');
    expect(fstab.startsWith('proc /proc proc defaults 0 0\n# BEGIN okLinux Desktop shares')).toBe(true);
    expect(fstab).toContain(`${line}\n# END okLinux Desktop shares\n`);
    // again, with no shares: the block goes, the user's lines stay
    await prepareRootDir({ vm: 'v', root, tarball: null, initScript: INIT, fstabLines: [] });
    expect(fs.readFileSync(path.join(root, 'etc/fstab'), 'utf8')).toBe('proc /proc proc defaults 0 0\n');
  });

  it('keeps fstab edits outside the block', () => {
    const once = withShares('a\n', ['x']);
    expect(withShares(`${once}b\n`, ['y'])).toBe(
      'a\nb\n# BEGIN okLinux Desktop shares (managed: edits here are replaced at each start)\ny\n# END okLinux Desktop shares\n',
    );
  });

  it('refuses a root without /bin/sh, and a missing root with nothing to fill it', async () => {
    const root = path.join(t.dir, 'root');
    fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
    fs.symlinkSync('/bin/missing', path.join(root, 'bin/sh'));
    await expect(prepareRootDir({ vm: 'v', root, tarball: null, initScript: INIT, fstabLines: [] })).rejects.toThrow(
      /has no \/bin\/sh, so it cannot boot to a shell/,
    );
    await expect(
      prepareRootDir({ vm: 'v', root: path.join(t.dir, 'none'), tarball: null, initScript: INIT, fstabLines: [] }),
    ).rejects.toBeInstanceOf(OkError);
  });

  it('never follows links a guest planted: no host file is read, written or chmod-ed through them', async () => {
    const root = path.join(t.dir, 'root');
    usrMergedRoot(root);
    fs.mkdirSync(path.join(root, 'etc'));
    const hostRc = path.join(t.dir, 'bashrc');
    const hostKey = path.join(t.dir, 'id_key');
    fs.writeFileSync(hostRc, 'export A=1\n', { mode: 0o600 });
    fs.writeFileSync(hostKey, 'SECRET KEY\n', { mode: 0o600 });
    fs.symlinkSync(hostRc, path.join(root, 'etc/fstab.oklinux-tmp'));
    fs.symlinkSync(hostKey, path.join(root, 'etc/fstab'));
    fs.symlinkSync(hostRc, path.join(root, 'usr/sbin/oklinux-init.oklinux-tmp'));
    await prepareRootDir({ vm: 'v', root, tarball: null, initScript: INIT, fstabLines: ['a /mnt/a 9p x 0 0'] });
    expect(fs.readFileSync(hostRc, 'utf8')).toBe('export A=1\n');
    expect(fs.statSync(hostRc).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(hostKey, 'utf8')).toBe('SECRET KEY\n');
    const fstab = path.join(root, 'etc/fstab');
    expect(fs.lstatSync(fstab).isFile()).toBe(true);
    expect(fs.readFileSync(fstab, 'utf8')).not.toContain('SECRET');
  });

  it('refuses a /sbin or /etc link that leads out of the root', async () => {
    const root = path.join(t.dir, 'root');
    fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
    fs.writeFileSync(path.join(root, 'bin/sh'), '#!/bin/true\n', { mode: 0o755 });
    fs.symlinkSync(path.join(t.dir, 'outside-nothing-here'), path.join(root, 'sbin'));
    await expect(prepareRootDir({ vm: 'v', root, tarball: null, initScript: INIT, fstabLines: [] })).rejects.toThrow(
      /has \/sbin as a link that leads outside the root or nowhere/,
    );
    expect(fs.existsSync(path.join(t.dir, 'outside-nothing-here'))).toBe(false);
  });

  it('does not hang on a FIFO a guest left at /etc/fstab, and replaces it with a regular file', async () => {
    const root = path.join(t.dir, 'root');
    usrMergedRoot(root);
    fs.mkdirSync(path.join(root, 'etc'));
    const fifo = path.join(root, 'etc/fstab');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const started = Date.now();
    await prepareRootDir({ vm: 'v', root, tarball: null, initScript: INIT, fstabLines: ['a /mnt/a 9p x 0 0'] });
    expect(Date.now() - started).toBeLessThan(10_000); // without O_NONBLOCK the open never returns
    expect(fs.lstatSync(fifo).isFile()).toBe(true);
    expect(fs.readFileSync(fifo, 'utf8')).toContain('a /mnt/a 9p x 0 0');
  });

  it('refuses an /etc/fstab far larger than any fstab, naming it, instead of reading it into memory', async () => {
    const root = path.join(t.dir, 'root');
    usrMergedRoot(root);
    fs.mkdirSync(path.join(root, 'etc'));
    const fstab = path.join(root, 'etc/fstab');
    fs.writeFileSync(fstab, '');
    fs.truncateSync(fstab, 2 * 1024 ** 3); // 2 GiB, sparse
    await expect(prepareRootDir({ vm: 'v', root, tarball: null, initScript: INIT, fstabLines: [] })).rejects.toThrow(
      `${fstab} is ${2 * 1024 ** 3} bytes, more than an fstab can be`,
    );
  });

  it('replaces a device node a guest (as root) left at /etc/fstab without opening it', async () => {
    requireRoot('mknod');
    const root = path.join(t.dir, 'root');
    usrMergedRoot(root);
    fs.mkdirSync(path.join(root, 'etc'));
    const node = path.join(root, 'etc/fstab');
    expect(spawnSync('mknod', [node, 'c', '1', '3']).status).toBe(0); // /dev/null's numbers
    await prepareRootDir({ vm: 'v', root, tarball: null, initScript: INIT, fstabLines: ['a /mnt/a 9p x 0 0'] });
    expect(fs.lstatSync(node).isFile()).toBe(true);
    expect(fs.readFileSync(node, 'utf8')).toContain('a /mnt/a 9p x 0 0');
  });
});
