/**
 * The guest builders without booting: the initramfs as the cpio tool reads it, the 9p root layout,
 * the command-line encoders, and the message for a missing tool.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeNewc } from '../fixtures/cpio';
import { buildInitramfs, buildRootDir, ensureTools, guestModules, INIT_SCRIPT } from '../fixtures/guest';
import { mountArg, optionValue, qemuArgv, runArg } from '../fixtures/qemu';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oklinux-fixtures-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function cpio(args: string[], input: Buffer, cwd = tmp): string {
  const r = spawnSync(ensureTools().cpio, args, { input, cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

describe('ensureTools', () => {
  it('names the Debian package of a missing tool', () => {
    const saved = process.env.PATH;
    process.env.PATH = path.join(tmp, 'no-such-dir');
    try {
      expect(() => ensureTools()).toThrow(
        /qemu-system-x86_64 is missing: install it with `apt-get install qemu-system-x86`/,
      );
    } finally {
      process.env.PATH = saved;
    }
  });
});

describe('buildInitramfs', () => {
  it('holds /init, busybox with its applets, the 9p modules and their load order', () => {
    const file = buildInitramfs();
    expect(path.basename(file)).toMatch(/^initramfs-[0-9a-f]{16}\.cpio\.gz$/);
    expect(buildInitramfs()).toBe(file);
    const archive = gunzipSync(fs.readFileSync(file));
    const names = cpio(['-it', '--quiet'], archive).split('\n');
    const modules = guestModules().map((m) => m.name);
    expect(modules.slice(-1)).toEqual(['9p']);
    expect(modules.indexOf('virtio')).toBeLessThan(modules.indexOf('virtio_pci'));
    expect(modules.indexOf('9pnet')).toBeLessThan(modules.indexOf('9pnet_virtio'));
    for (const name of ['init', 'bin/busybox', 'bin/sh', 'sbin/switch_root', 'sbin/insmod', 'dev/console'])
      expect(names).toContain(name);
    for (const m of modules) expect(names).toContain(`lib/oklinux/modules/${m}.ko`);
    expect(names).not.toContain('sbin/init');

    const verbose = cpio(['-itv', '--quiet'], archive);
    expect(verbose).toMatch(/^crw------- .* 5, +1 .* dev\/console$/m);
    expect(verbose).toMatch(/^lrwxrwxrwx .* bin\/sh -> \/bin\/busybox$/m);
    expect(cpio(['-i', '--quiet', '--to-stdout', 'init'], archive)).toBe(fs.readFileSync(INIT_SCRIPT, 'utf8'));
    expect(cpio(['-i', '--quiet', '--to-stdout', 'etc/oklinux/modules'], archive)).toBe(modules.join('\n') + '\n');
  });

  it('writes newc the cpio tool extracts, the same bytes every time', () => {
    const entries = [
      { name: 'd', type: 'dir', mode: 0o750 },
      { name: 'd/f', type: 'file', mode: 0o640, data: 'odd-length' },
      { name: 'd/l', type: 'symlink', target: 'f' },
    ] as const;
    const a = writeNewc([...entries]);
    expect(a.equals(writeNewc([...entries]))).toBe(true);
    expect(a.length % 4).toBe(0);
    const out = path.join(tmp, 'x');
    fs.mkdirSync(out);
    cpio(['-id', '--quiet'], a, out);
    expect(fs.statSync(path.join(out, 'd')).mode & 0o777).toBe(0o750);
    expect(fs.readFileSync(path.join(out, 'd/f'), 'utf8')).toBe('odd-length');
    expect(fs.statSync(path.join(out, 'd/f')).mode & 0o777).toBe(0o640);
    expect(fs.readlinkSync(path.join(out, 'd/l'))).toBe('f');
  });
});

describe('buildRootDir', () => {
  it('lays out a bootable root, and can be run again over itself', () => {
    const root = path.join(tmp, 'root');
    buildRootDir(root);
    buildRootDir(root);
    expect(fs.readlinkSync(path.join(root, 'bin/sh'))).toBe('/bin/busybox');
    expect(fs.statSync(path.join(root, 'sbin/oklinux-init')).mode & 0o777).toBe(0o755);
    expect(fs.readFileSync(path.join(root, 'sbin/oklinux-init'), 'utf8')).toBe(fs.readFileSync(INIT_SCRIPT, 'utf8'));
    expect(fs.statSync(path.join(root, 'tmp')).mode & 0o7777).toBe(0o1777);
    expect(fs.readFileSync(path.join(root, 'etc/passwd'), 'utf8')).toMatch(/^root:x:0:0:/);
    for (const d of ['dev', 'proc', 'sys', 'run', 'root'])
      expect(fs.statSync(path.join(root, d)).isDirectory()).toBe(true);
    expect(fs.existsSync(path.join(root, 'sbin/init'))).toBe(false);
  });
});

describe('command-line encoders', () => {
  it('escapes what the kernel command line and -fsdev cannot carry', () => {
    expect(mountArg('src', '/mnt/src')).toBe('oklinux.mount=src:/mnt/src');
    expect(mountArg('t', '/mnt/a b:c', 'trans=virtio,ro')).toBe('oklinux.mount=t:/mnt/a\\0040b\\0072c:trans=virtio,ro');
    expect(runArg('echo hi\n')).toBe(`oklinux.run=${Buffer.from('echo hi\n').toString('base64')}`);
    expect(optionValue('/a,b,,c')).toBe('/a,,b,,,,c');
    const argv = qemuArgv({ kernel: 'K', append: 'quiet', shares: [{ tag: 't', path: '/x,y', readonly: true }] });
    expect(argv).toContain('local,id=fs0,path=/x,,y,security_model=none,readonly=on');
    expect(argv).toContain('virtio-9p-pci,fsdev=fs0,mount_tag=t');
    expect(argv[argv.indexOf('-append') + 1]).toBe('console=ttyS0 quiet');
    expect(() => qemuArgv({ kernel: 'K', append: 'x'.repeat(2040) })).toThrow(/command line is 2054 bytes/);
  });
});
