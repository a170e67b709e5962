/**
 * ext4 root disks on the host side, with the real e2fsprogs (no VM): the init and the fstab block written
 * with debugfs through an /sbin link inside the image, mount points made, sparse copies and streamed
 * decompression, mkfs.ext4 -d from a tree.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { copyDisk, diskFromDir, diskFromRootfs, diskTool, diskToolsWarning, isExtImage } from '@core/vm/disk';
import { prepareRootDisk } from '@core/vm/disk-init';
import { tmpDir } from '../helpers/tmp';

const INIT = path.resolve('resources/guest/oklinux-init');

let t: ReturnType<typeof tmpDir>;
beforeEach(() => {
  t = tmpDir('oklinux-disk-');
});
afterEach(() => t.cleanup());

/** A command's stdout; fails the test with its output when it fails. */
function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** Read a file out of an image (debugfs dump), or null when it is not there. */
function readIn(img: string, p: string): string | null {
  const out = path.join(t.dir, `read-${Math.random()}`);
  spawnSync(diskTool('debugfs'), ['-R', `dump "${p}" "${out}"`, img]);
  if (!fs.existsSync(out)) return null;
  const text = fs.readFileSync(out, 'utf8');
  fs.rmSync(out);
  return text;
}

function statIn(img: string, p: string): string {
  return sh(diskTool('debugfs'), ['-R', `stat "${p}"`, img]);
}

/** A usr-merged tree (/sbin -> /usr/sbin) with an fstab and no mount points. */
function tree(): string {
  const root = path.join(t.dir, 'tree');
  fs.mkdirSync(path.join(root, 'usr/sbin'), { recursive: true });
  fs.mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
  fs.mkdirSync(path.join(root, 'etc'));
  fs.symlinkSync('/usr/sbin', path.join(root, 'sbin'));
  fs.symlinkSync('usr/bin', path.join(root, 'bin'));
  fs.writeFileSync(path.join(root, 'etc/fstab'), 'proc /proc proc defaults 0 0\n');
  fs.writeFileSync(path.join(root, 'usr/bin/hello'), 'hello\n');
  return root;
}

describe('ext4 root disks (e2fsprogs, no root, no mount)', () => {
  it('mkfs.ext4 -d makes a sparse image of a tree; a too-small size is refused naming --size', async () => {
    const img = path.join(t.dir, 'root.img');
    await diskFromDir(tree(), img, 64 * 1024 * 1024, { vm: 'v' });
    expect(await isExtImage(img)).toBe(true);
    const st = fs.statSync(img);
    expect(st.size).toBe(64 * 1024 * 1024);
    expect(st.blocks * 512).toBeLessThan(st.size); // sparse
    expect(readIn(img, '/usr/bin/hello')).toBe('hello\n');
    expect(fs.readdirSync(t.dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    const big = path.join(t.dir, 'big');
    fs.mkdirSync(big);
    fs.writeFileSync(path.join(big, 'blob'), Buffer.alloc(3 * 1024 * 1024, 7));
    await expect(diskFromDir(big, path.join(t.dir, 'small.img'), 2 * 1024 * 1024, { vm: 'v' })).rejects.toThrow(
      /does not fit in 2 MiB; give a larger --size/,
    );
    expect(fs.existsSync(path.join(t.dir, 'small.img'))).toBe(false);
  });

  it('writes oklinux-init through an /sbin link inside the image, the shares into fstab, and the mount points', async () => {
    const img = path.join(t.dir, 'root.img');
    await diskFromDir(tree(), img, 64 * 1024 * 1024, { vm: 'v' });
    const line = 'host /mnt/host 9p trans=virtio,version=9p2000.L,msize=512000,cache=mmap,_netdev,nofail 0 0';
    await prepareRootDisk({ vm: 'v', disk: img, initScript: INIT, fstabLines: [line] });
    expect(readIn(img, '/usr/sbin/oklinux-init')).toBe(fs.readFileSync(INIT, 'utf8'));
    expect(statIn(img, '/usr/sbin/oklinux-init')).toMatch(/Mode:\s+0755/);
    expect(statIn(img, '/usr/sbin/oklinux-init')).toMatch(/User:\s+0\s+Group:\s+0/);
    const fstab = readIn(img, '/etc/fstab')!;
    expect(fstab.startsWith('proc /proc proc defaults 0 0\n# BEGIN okLinux Desktop shares')).toBe(true);
    expect(fstab).toContain(`${line}\n# END okLinux Desktop shares\n`);
    for (const d of ['dev', 'proc', 'sys', 'run'])
      expect(statIn(img, `/${d}`)).toMatch(/Type: directory\s+Mode:\s+0755/);
    expect(statIn(img, '/tmp')).toMatch(/Type: directory\s+Mode:\s+01777/);
    expect(statIn(img, '/sbin')).toMatch(/Type: symlink/); // the link is left as it is
    // again with no shares: the block goes, the user's line stays; the filesystem stays clean
    await prepareRootDisk({ vm: 'v', disk: img, initScript: INIT, fstabLines: [] });
    expect(readIn(img, '/etc/fstab')).toBe('proc /proc proc defaults 0 0\n');
    const fsck = spawnSync(diskTool('e2fsck'), ['-fn', img], { encoding: 'utf8' });
    expect(fsck.status, fsck.stdout + fsck.stderr).toBe(0);
  });

  it('refuses a file that is not ext4, and an /sbin link that leads nowhere in the image', async () => {
    const junk = path.join(t.dir, 'junk.img');
    fs.writeFileSync(junk, Buffer.alloc(1 << 20, 1));
    await expect(prepareRootDisk({ vm: 'v', disk: junk, initScript: INIT, fstabLines: [] })).rejects.toThrow(
      /is not an ext4 image/,
    );
    const root = tree();
    fs.rmSync(path.join(root, 'usr/sbin'), { recursive: true });
    const img = path.join(t.dir, 'root.img');
    await diskFromDir(root, img, 32 * 1024 * 1024, { vm: 'v' });
    await expect(prepareRootDisk({ vm: 'v', disk: img, initScript: INIT, fstabLines: [] })).rejects.toThrow(
      /has \/sbin, but it is not a directory/,
    );
  });

  it('copies an image sparse, byte for byte, and decompresses .gz, .zst and .xz rootfs images as streams', async () => {
    const img = path.join(t.dir, 'root.img');
    await diskFromDir(tree(), img, 64 * 1024 * 1024, { vm: 'v' });
    const original = fs.readFileSync(img);
    const copy = path.join(t.dir, 'vm', 'copy.img');
    await copyDisk(img, copy);
    expect(fs.readFileSync(copy).equals(original)).toBe(true);
    expect(fs.statSync(copy).blocks * 512).toBeLessThan(original.length / 2);
    fs.writeFileSync(`${img}.gz`, gzipSync(original));
    sh('zstd', ['-q', '-k', img, '-o', `${img}.zst`]);
    sh('xz', ['-k', '-0', '-T1', img]);
    for (const format of ['ext4.gz', 'ext4.zst', 'ext4.xz'] as const) {
      const out = path.join(t.dir, `out-${format}.img`);
      await diskFromRootfs(`${img}.${format.slice(5)}`, format, out, { vm: 'v' });
      expect(fs.readFileSync(out).equals(original), format).toBe(true);
      expect(fs.statSync(out).blocks * 512, format).toBeLessThan(original.length / 2);
    }
    await expect(
      diskFromRootfs(path.join(t.dir, 'tree/usr/bin/hello'), 'ext4.zst', path.join(t.dir, 'bad.img'), { vm: 'v' }),
    ).rejects.toThrow(/could not be decompressed: zstd exited \d+/);
    expect(fs.existsSync(path.join(t.dir, 'bad.img'))).toBe(false);
    await expect(
      diskFromRootfs(`${img}.zst`, 'ext4.zst', path.join(t.dir, 'nozstd.img'), {
        vm: 'v',
        env: { PATH: '/nonexistent' },
      }),
    ).rejects.toThrow(/zstd is not installed; .*apt-get install zstd/);
  });

  it("doctor's line names the missing e2fsprogs programs and the package; none when they are there", () => {
    expect(diskToolsWarning(process.env)).toBeNull();
    const bin = path.join(t.dir, 'bin');
    fs.mkdirSync(bin);
    fs.symlinkSync(diskTool('mkfs.ext4'), path.join(bin, 'mkfs.ext4'));
    const line = diskToolsWarning({ PATH: bin }, []);
    expect(line).toMatch(/^debugfs, e2fsck are not installed: ext4 disk roots .* need them\. Install e2fsprogs/);
    expect(line).toContain('apt-get install e2fsprogs');
  });
});
