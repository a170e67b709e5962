/**
 * One real boot (QEMU TCG) from `qemuArgv`: the okLinux-shaped test kernel, with no initrd, mounts
 * the 9p root share itself and runs okLinux's guest init from it (busybox root), which mounts the
 * shares from their `oklinux.mount=` parameters and runs a probe script, then powers off.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { qemuArgv } from '@core/vmm/qemu';
import type { VmSpec } from '@core/vmm/types';
import { ROOT_TAG, mountOptions } from '@core/shares';
import { buildRootDir } from '../fixtures/guest';
import { okKernelPath } from '../fixtures/oklinux-kernel';
import { runArg } from '../fixtures/qemu';
import { startQemu, stopQemu, type RunningQemu } from './qemu-process';

const BOOT_MS = 180_000;
const PROBE = [
  'cat /mnt/odd/from-host',
  'echo from-guest > /mnt/odd/from-guest',
  '(echo x > /mnt/ro/new.txt) 2>/dev/null && echo ro-write=allowed || echo ro-write=refused',
  'mount -o remount,rw /mnt/ro && echo ro-remounted-rw',
  '(echo x > /mnt/ro/new.txt) 2>/dev/null && echo ro-host-write=allowed || echo ro-host-write=refused',
  'grep " 9p " /proc/mounts | cut -d" " -f1,2,4',
  'echo "root=$(grep " / 9p " /proc/mounts | cut -d" " -f1)"',
].join('\n');

let tmp: string;
let kernel: string;
let q: RunningQemu | undefined;

beforeAll(() => {
  kernel = okKernelPath();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oklinux-vmm-boot-'));
});
afterAll(async () => {
  if (q) await stopQemu(q);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('qemuArgv boots a real guest with a 9p root and shares', () => {
  it(
    'mounts root, rw and ro shares with the generated parameters; ro holds even after a guest remount',
    async () => {
      const root = path.join(tmp, 'root dir');
      const odd = path.join(tmp, 'a:b c,d');
      const ro = path.join(tmp, 'ro,dir');
      buildRootDir(root);
      for (const d of [odd, ro]) fs.mkdirSync(d);
      fs.writeFileSync(path.join(odd, 'from-host'), 'hello-from-host\n');

      const spec: VmSpec = {
        name: 'boot',
        kernelPath: kernel,
        params: ['quiet panic=-1 init=/sbin/oklinux-init', runArg(PROBE)],
        cpus: 1,
        memoryMiB: 256,
        accel: 'tcg',
        runDir: tmp,
        controlSocket: path.join(tmp, 'qmp.sock'),
        rootShare: { tag: ROOT_TAG, hostPath: root },
        shares: [
          {
            tag: 'odd',
            hostPath: odd,
            readOnly: false,
            guestPath: '/mnt/odd',
            mountOptions: mountOptions('qemu', false),
          },
          { tag: 'ro', hostPath: ro, readOnly: true, guestPath: '/mnt/ro', mountOptions: mountOptions('qemu', true) },
        ],
      };
      q = startQemu(qemuArgv(spec));
      let out = '';
      q.child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d.replaceAll('\r', '')));
      const exit = await q.exited;

      expect(exit, `${out}\n${q.stderr()}`).toEqual({ code: 0, signal: null });
      expect(out).not.toContain('oklinux-init: switch_root'); // no initrd: the kernel mounted the root
      expect(out).toContain(`root=${ROOT_TAG}\n`);
      expect(out).toContain('oklinux-init: mounted odd on /mnt/odd\n');
      expect(out).toContain('oklinux-init: mounted ro on /mnt/ro\n');
      expect(out).not.toMatch(/oklinux-init: (module .* failed|mount .* failed)/);
      expect(out).toMatch(
        /hello-from-host\nro-write=refused\nro-remounted-rw\nro-host-write=refused\n[^]*odd \/mnt\/odd rw,[^\n]*mmap[^\n]*\n/,
      );
      expect(out).toContain('oklinux-init: run exit 0\n');
      expect(fs.readFileSync(path.join(odd, 'from-guest'), 'utf8')).toBe('from-guest\n');
      expect(fs.readdirSync(ro)).toEqual([]);
    },
    BOOT_MS,
  );
});
