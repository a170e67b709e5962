/**
 * Real QEMU (TCG) boots of the test guest: oklinux-init as /init of the initramfs, 9p shares, and a
 * 9p root reached by switch_root, and the hand-over to a distro init. Each boot takes seconds, so there are three.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInitramfs, buildRootDir, ensureTools } from '../fixtures/guest';
import { Guest, mountArg, runArg } from '../fixtures/qemu';

const BOOT_MS = 180_000;
let tmp: string;
let kernel: string;
let initrd: string;

beforeAll(() => {
  kernel = ensureTools().kernel;
  initrd = buildInitramfs();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oklinux-guest-'));
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Boots, and makes sure QEMU is gone when the test ends. */
async function withGuest<T>(guest: Guest, body: (g: Guest) => Promise<T>): Promise<T> {
  try {
    return await body(guest);
  } finally {
    guest.kill();
  }
}

describe('initramfs boot with oklinux.run', () => {
  it(
    'mounts shares, reads and writes host files, refuses writes on a read-only share, powers off',
    async () => {
      const src = path.join(tmp, 'src');
      const ro = path.join(tmp, 'ro');
      const odd = path.join(tmp, 'odd: dir, with comma');
      for (const d of [src, ro, odd]) fs.mkdirSync(d);
      fs.writeFileSync(path.join(src, 'in.txt'), 'from-host\n');
      fs.writeFileSync(path.join(ro, 'keep.txt'), 'read-only\n');
      fs.writeFileSync(path.join(odd, 'odd.txt'), 'odd-path\n');

      const script = [
        'cat /mnt/src/in.txt',
        'echo from-guest > /mnt/src/out.txt',
        'cat /mnt/ro/keep.txt',
        'if echo x > /mnt/ro/new.txt; then echo ro-write=allowed; else echo ro-write=refused; fi',
        'cat "/mnt/odd: dir/odd.txt"',
        'echo odd-back > "/mnt/odd: dir/back.txt"',
        'hostname',
      ].join('\n');
      const guest = new Guest({
        kernel,
        initrd,
        append: [
          'quiet panic=-1 oklinux.hostname=okguest',
          mountArg('src', '/mnt/src'),
          mountArg('ro', '/mnt/ro', 'trans=virtio,version=9p2000.L,msize=131072,cache=mmap'),
          mountArg('odd', '/mnt/odd: dir'),
          runArg(script),
        ].join(' '),
        shares: [
          { tag: 'src', path: src },
          { tag: 'ro', path: ro, readonly: true },
          { tag: 'odd', path: odd },
        ],
      });
      const exit = await withGuest(guest, async (g) => {
        await g.waitFor(/oklinux-init: run exit \d+/);
        return g.exited;
      });

      const out = guest.output;
      expect(exit, guest.describe()).toEqual({ code: 0, signal: null });
      expect(out).toContain('oklinux-init: mounted src on /mnt/src\n');
      expect(out).toContain('oklinux-init: mounted ro on /mnt/ro\n');
      expect(out).toContain('oklinux-init: mounted odd on /mnt/odd: dir\n');
      expect(out).not.toMatch(/oklinux-init: (module .* failed|mount .* failed)/);
      expect(out).toMatch(/from-host\n[^]*read-only\n[^]*ro-write=refused\n[^]*odd-path\n[^]*okguest\n/);
      expect(out).toContain('oklinux-init: run exit 0\n');
      expect(out).toContain('oklinux-init: poweroff\n');
      expect(fs.readFileSync(path.join(src, 'out.txt'), 'utf8')).toBe('from-guest\n');
      expect(fs.readFileSync(path.join(odd, 'back.txt'), 'utf8')).toBe('odd-back\n');
      expect(fs.existsSync(path.join(ro, 'new.txt'))).toBe(false);
    },
    BOOT_MS,
  );
});

describe('9p root boot through switch_root', () => {
  it(
    'reaches a respawning job-control shell that echoes, powers off, and leaves host-owned files',
    async () => {
      const root = path.join(tmp, 'root');
      buildRootDir(root);
      const guest = new Guest({
        kernel,
        initrd,
        append:
          'quiet panic=-1 root=okroot rootfstype=9p ' +
          'rootflags=trans=virtio,version=9p2000.L,msize=131072,cache=mmap rw oklinux.hostname=vm1',
        shares: [{ tag: 'okroot', path: root }],
      });
      const exit = await withGuest(guest, async (g) => {
        await g.waitFor(/oklinux-init: switch_root okroot\n/);
        const ready = (await g.waitFor(/oklinux-init: ready\n/)).index;
        await g.waitFor(/vm1:\/root# /, { from: ready });
        // run() waits for the command's completion marker and gives its output (not the echo)
        expect(
          await g.run('echo "$((6 * 7))-round-trip"; echo made > /made-in-guest; stat -c %F /made-in-guest'),
        ).toMatch(/\n42-round-trip\nregular file\n/);
        // Job control: Ctrl-C reaches the foreground job (started after tcsetpgrp, so no race).
        let mark = g.output.length;
        g.write(`sh -c 'echo sleep-st""arted; exec sleep 100'\n`);
        await g.waitFor(/\nsleep-started\n/, { from: mark });
        mark = g.output.length;
        g.write('\x03');
        await g.waitFor(/vm1:\/root# /, { from: mark });
        g.write('echo "after=$?"\n');
        await g.waitFor(/\nafter=130\n/, { from: mark });
        // Leaving the shell starts a new one.
        mark = g.output.length;
        g.write('exit\n');
        await g.waitFor(/oklinux-init: ready\n[^]*vm1:\/root# /, { from: mark });
        mark = g.output.length;
        g.write('poweroff\n');
        await g.waitFor(/oklinux-init: poweroff\n/, { from: mark });
        return g.exited;
      });

      expect(exit, guest.describe()).toEqual({ code: 0, signal: null });
      const made = path.join(root, 'made-in-guest');
      expect(fs.statSync(made).uid).toBe(process.getuid?.());
      expect(fs.readFileSync(made, 'utf8')).toBe('made\n');
      fs.unlinkSync(made);
      expect(fs.existsSync(made)).toBe(false);
    },
    BOOT_MS,
  );
});

describe('9p root with a distro init', () => {
  it(
    'hands over to /sbin/init when its inittab has a console getty, keeping the shares',
    async () => {
      const root = path.join(tmp, 'distro');
      const share = path.join(tmp, 'distro-share');
      buildRootDir(root);
      fs.mkdirSync(share);
      fs.writeFileSync(path.join(share, 'seen.txt'), 'share-kept\n');
      fs.symlinkSync('/bin/busybox', path.join(root, 'sbin/init'));
      fs.writeFileSync(
        path.join(root, 'etc/inittab'),
        '::sysinit:/bin/echo distro-sysinit-ran\nttyS0::respawn:/bin/sh\n::shutdown:/bin/sync\n',
      );
      const guest = new Guest({
        kernel,
        initrd,
        append: `quiet panic=-1 root=okroot rootfstype=9p rw ${mountArg('data', '/mnt/data')}`,
        shares: [
          { tag: 'okroot', path: root },
          { tag: 'data', path: share },
        ],
      });
      const exit = await withGuest(guest, async (g) => {
        const handed = await g.waitFor(/oklinux-init: exec \/sbin\/init\n[^]*distro-sysinit-ran\n/);
        await g.waitFor(/# /, { from: handed.index + handed[0].length }); // the inittab's shell
        expect(await g.run('cat /mnt/data/seen.txt')).toMatch(/\nshare-kept\n/);
        const mark = g.output.length;
        g.write('poweroff\n'); // busybox's applet signals busybox init, which powers off
        await g.waitFor(/reboot: Power down/, { from: mark });
        return g.exited;
      });
      expect(exit, guest.describe()).toEqual({ code: 0, signal: null });
      expect(guest.output).toContain('oklinux-init: mounted data on /mnt/data\n');
      expect(guest.output).not.toContain('oklinux-init: ready');
    },
    BOOT_MS,
  );
});
