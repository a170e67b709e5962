import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OkError } from '@contract/errors';
import { qemuArgv, qemuOptValue } from '@core/vmm/qemu';
import { connectQmp, type QmpClient } from '@core/vmm/qmp';
import type { ShareSpec, VmSpec } from '@core/vmm/types';
import { ROOT_TAG, mountOptions } from '@core/shares';
import { ensureTools } from '../fixtures/guest';
import { startQemu, stopQemu } from './qemu-process';

const SOCK = '/run/ok/7/qmp.sock';
const KERNEL = '/data/store/sha256/aa/bzImage';
const RW = 'trans=virtio,version=9p2000.L,msize=512000,cache=mmap';
const RO = `${RW},ro`;

function spec(over: Partial<VmSpec> = {}): VmSpec {
  return {
    name: 'dev',
    kernelPath: KERNEL,
    params: ['quiet loglevel=4'],
    cpus: 2,
    memoryMiB: 1024,
    accel: 'tcg',
    runDir: '/run/ok/7',
    controlSocket: SOCK,
    shares: [],
    ...over,
  };
}

function share(tag: string, hostPath: string, readOnly: boolean, extra: Partial<ShareSpec> = {}): ShareSpec {
  return { tag, hostPath, readOnly, guestPath: `/mnt/${tag}`, mountOptions: mountOptions('qemu', readOnly), ...extra };
}

function failure(fn: () => unknown): OkError {
  try {
    fn();
  } catch (e) {
    if (e instanceof OkError) return e;
    throw e;
  }
  throw new Error('expected an OkError');
}

const COMMON_TAIL = [
  '-chardev',
  'stdio,id=con0,signal=off',
  '-serial',
  'chardev:con0',
  '-qmp',
  `unix:${SOCK},server=on,wait=off`,
  '-no-reboot',
];

describe('qemuArgv (golden)', () => {
  it('no shares, tcg', () => {
    expect(qemuArgv(spec())).toEqual([
      '-nodefaults',
      '-no-user-config',
      '-nographic',
      '-accel',
      'tcg',
      '-cpu',
      'max',
      '-m',
      '1024M',
      '-smp',
      '2',
      '-kernel',
      KERNEL,
      '-append',
      'console=ttyS0 quiet loglevel=4',
      ...COMMON_TAIL,
    ]);
  });

  it('NAT: a user-mode netdev and a virtio-net NIC without its option ROM; the guest is told eth0 by DHCP or static', () => {
    expect(qemuArgv(spec({ net: { mode: 'nat' } }))).toEqual([
      '-nodefaults',
      '-no-user-config',
      '-nographic',
      '-accel',
      'tcg',
      '-cpu',
      'max',
      '-m',
      '1024M',
      '-smp',
      '2',
      '-kernel',
      KERNEL,
      '-append',
      'console=ttyS0 quiet loglevel=4 oklinux.net=eth0:10.0.2.15/24:10.0.2.2:10.0.2.3',
      ...COMMON_TAIL,
      '-netdev',
      'user,id=n0',
      '-device',
      'virtio-net-pci,netdev=n0,romfile=',
    ]);
  });

  it('restricted: restrict=on, and no nameserver for the guest (the DNS relay is cut off too)', () => {
    const argv = qemuArgv(spec({ net: { mode: 'restricted' } }));
    expect(argv.slice(-4)).toEqual([
      '-netdev',
      'user,id=n0,restrict=on',
      '-device',
      'virtio-net-pci,netdev=n0,romfile=',
    ]);
    expect(argv[argv.indexOf('-append') + 1]).toBe(
      'console=ttyS0 quiet loglevel=4 oklinux.net=eth0:10.0.2.15/24:10.0.2.2:',
    );
  });

  it('none: no network device at all (-nodefaults drops the default NIC), and the guest is told so', () => {
    const argv = qemuArgv(spec({ net: { mode: 'none' } }));
    expect(argv.filter((a) => /^-(netdev|net|nic)$/.test(a) || a.includes('virtio-net'))).toEqual([]);
    expect(argv.slice(-COMMON_TAIL.length)).toEqual(COMMON_TAIL);
    expect(argv[argv.indexOf('-append') + 1]).toBe('console=ttyS0 quiet loglevel=4 oklinux.net=none');
  });

  it('published ports are hostfwd rules on the netdev, restricted or not', () => {
    const forwards = [
      { protocol: 'tcp' as const, hostAddr: '127.0.0.1', hostPort: 8080, guestPort: 80 },
      { protocol: 'udp' as const, hostAddr: '0.0.0.0', hostPort: 5353, guestPort: 53 },
    ];
    expect(qemuArgv(spec({ net: { mode: 'restricted', forwards } })).slice(-4)).toEqual([
      '-netdev',
      'user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=udp:0.0.0.0:5353-:53',
      '-device',
      'virtio-net-pci,netdev=n0,romfile=',
    ]);
    expect(qemuArgv(spec({ net: { mode: 'nat', forwards: forwards.slice(0, 1) } }))).toContain(
      'user,id=n0,hostfwd=tcp:127.0.0.1:8080-:80',
    );
    expect(failure(() => qemuArgv(spec({ net: { mode: 'none', forwards } }))).message).toMatch(
      /no network \(--net none\) cannot publish ports/,
    );
  });

  it('tap:NAME: a tap netdev with no helper scripts; the guest asks DHCP with no static fallback; no forwards', () => {
    const argv = qemuArgv(spec({ net: { mode: 'tap:okt0' } }));
    expect(argv.slice(-4)).toEqual([
      '-netdev',
      'tap,id=n0,ifname=okt0,script=no,downscript=no',
      '-device',
      'virtio-net-pci,netdev=n0,romfile=',
    ]);
    expect(argv[argv.indexOf('-append') + 1]).toBe('console=ttyS0 quiet loglevel=4 oklinux.net=eth0:::');
    const forwards = [{ protocol: 'tcp' as const, hostAddr: '127.0.0.1', hostPort: 8080, guestPort: 80 }];
    expect(failure(() => qemuArgv(spec({ net: { mode: 'tap:okt0', forwards } }))).message).toMatch(
      /TAP device okt0 cannot publish ports/,
    );
    expect(failure(() => qemuArgv(spec({ net: { mode: 'tap:bad,name' } }))).message).toMatch(/may only have letters/);
  });

  it('remote shares: one guestfwd per share to the relay client (quoted, "," doubled), and oklinux.remote= per share', () => {
    const argv = qemuArgv(
      spec({
        net: {
          mode: 'restricted',
          guestForwards: [
            {
              guestAddr: '10.0.2.100',
              guestPort: 564,
              command: ['/usr/bin/node', '/app/relay.mjs', '/run/a b,c/relay.sock', 'data'],
            },
          ],
        },
        remoteShares: [{ tag: 'data', guestPath: '/mnt/data', url: '9p://127.0.0.1:5640/srv/data', readOnly: true }],
      }),
    );
    expect(argv.slice(-4)).toEqual([
      '-netdev',
      "user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:564-cmd:/usr/bin/node /app/relay.mjs '/run/a b,,c/relay.sock' data",
      '-device',
      'virtio-net-pci,netdev=n0,romfile=',
    ]);
    expect(argv[argv.indexOf('-append') + 1]).toBe(
      'console=ttyS0 quiet loglevel=4 oklinux.net=eth0:10.0.2.15/24:10.0.2.2: ' +
        'oklinux.remote=data:/mnt/data:10.0.2.100:trans=tcp,port=564,version=9p2000.L,aname=/srv/data,msize=131072,ro',
    );
    expect(
      failure(() =>
        qemuArgv(
          spec({
            net: { mode: 'none' },
            remoteShares: [{ tag: 'd', guestPath: '/mnt/d', url: '9p://h/x', readOnly: false }],
          }),
        ),
      ).message,
    ).toMatch(/remote shares need the VM's network to be nat or restricted, but it is none/);
  });

  it('the network parameter comes after the root share, before the shares', () => {
    const s = spec({
      net: { mode: 'nat' },
      rootShare: { tag: ROOT_TAG, hostPath: '/data/vms/dev/root' },
      shares: [share('src', '/home/u/src', false)],
    });
    const append = qemuArgv(s)[qemuArgv(s).indexOf('-append') + 1]!;
    expect(append).toMatch(/ rw oklinux\.net=eth0:\S+ oklinux\.mount=src:/);
  });

  it('kvm, initrd, an explicit console, ro and rw shares', () => {
    const s = spec({
      accel: 'kvm',
      cpus: 1,
      memoryMiB: 512,
      initrdPath: '/data/store/sha256/bb/initrd.img',
      params: ['console=ttyS0,115200 quiet', ' '],
      shares: [
        share('src', '/home/u/src', false),
        share('docs', '/home/u/docs', true, { guestPath: '/home/user/docs' }),
      ],
    });
    expect(qemuArgv(s)).toEqual([
      '-nodefaults',
      '-no-user-config',
      '-nographic',
      '-accel',
      'kvm',
      '-cpu',
      'host',
      '-m',
      '512M',
      '-smp',
      '1',
      '-kernel',
      KERNEL,
      '-initrd',
      '/data/store/sha256/bb/initrd.img',
      '-append',
      `console=ttyS0,115200 quiet oklinux.mount=src:/mnt/src:${RW} oklinux.mount=docs:/home/user/docs:${RO}`,
      ...COMMON_TAIL,
      '-fsdev',
      'local,id=fs0,path=/home/u/src,security_model=none',
      '-device',
      'virtio-9p-pci,fsdev=fs0,mount_tag=src',
      '-fsdev',
      'local,id=fs1,path=/home/u/docs,security_model=none,readonly=on',
      '-device',
      'virtio-9p-pci,fsdev=fs1,mount_tag=docs',
    ]);
  });

  it('root share first, then shares; ":" and " " kept, "," doubled in option values only', () => {
    const s = spec({
      kernelPath: '/k,1:2/bz Image',
      controlSocket: '/run/ok,7/qmp.sock',
      rootShare: { tag: ROOT_TAG, hostPath: '/data/vms/dev/root' },
      shares: [share('odd', '/home/u/a:b c,d', true)],
    });
    expect(qemuArgv(s)).toEqual([
      '-nodefaults',
      '-no-user-config',
      '-nographic',
      '-accel',
      'tcg',
      '-cpu',
      'max',
      '-m',
      '1024M',
      '-smp',
      '2',
      '-kernel',
      '/k,1:2/bz Image',
      '-append',
      'console=ttyS0 quiet loglevel=4 root=oklinux-root rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=512000,cache=loose rw ' +
        `oklinux.mount=odd:/mnt/odd:${RO}`,
      '-chardev',
      'stdio,id=con0,signal=off',
      '-serial',
      'chardev:con0',
      '-qmp',
      'unix:/run/ok,,7/qmp.sock,server=on,wait=off',
      '-no-reboot',
      '-fsdev',
      'local,id=fs0,path=/data/vms/dev/root,security_model=none',
      '-device',
      'virtio-9p-pci,fsdev=fs0,mount_tag=oklinux-root',
      '-fsdev',
      'local,id=fs1,path=/home/u/a:b c,,d,security_model=none,readonly=on',
      '-device',
      'virtio-9p-pci,fsdev=fs1,mount_tag=odd',
    ]);
    expect(qemuOptValue('a,,b,')).toBe('a,,,,b,,');
  });

  it('rejects long or invalid tags, bldy p9 options and bad mount options', () => {
    expect(failure(() => qemuArgv(spec({ shares: [share('t'.repeat(32), '/a', false)] }))).message).toMatch(
      /at most 31 bytes/,
    );
    expect(failure(() => qemuArgv(spec({ shares: [share('a,b', '/a', false, { guestPath: '/mnt/ab' })] }))).code).toBe(
      'INVALID_INPUT',
    );
    expect(
      failure(() => qemuArgv(spec({ shares: [share(ROOT_TAG, '/a', false, { guestPath: '/mnt/r' })] }))).message,
    ).toMatch(/reserved/);
    const casefold = failure(() =>
      qemuArgv(spec({ shares: [share('w', '/w', false, { p9Options: ['ascii_casefold=true'] })] })),
    );
    expect(casefold.code).toBe('UNSUPPORTED');
    expect(casefold.message).toContain('ascii_casefold=true');
    expect(failure(() => qemuArgv(spec({ shares: [share('w', '/w', true, { mountOptions: RW })] }))).message).toMatch(
      /lack "ro"/,
    );
    expect(failure(() => qemuArgv(spec({ shares: [share('w', '/w', false, { guestPath: '/mnt/a b' })] }))).code).toBe(
      'INVALID_INPUT',
    );
    expect(failure(() => qemuArgv(spec({ shares: [share('w', 'rel/dir', false)] }))).message).toMatch(
      /host path "rel\/dir" is not an absolute path/,
    );
  });
});

describe('qemuArgv with a root disk (golden)', () => {
  it('a raw virtio-blk drive, root=/dev/vda rw rootfstype=ext4; readonly=on and ro for a read-only disk', () => {
    const rw = qemuArgv(spec({ rootDisk: { path: '/d/a,b root.img', readOnly: false } }));
    expect(rw.slice(rw.indexOf('-drive'))).toEqual([
      '-drive',
      'file=/d/a,,b root.img,format=raw,if=none,id=root',
      '-device',
      'virtio-blk-pci,drive=root',
    ]);
    expect(rw[rw.indexOf('-append') + 1]).toBe('console=ttyS0 quiet loglevel=4 root=/dev/vda rw rootfstype=ext4');
    const ro = qemuArgv(spec({ rootDisk: { path: '/d/root.img', readOnly: true } }));
    expect(ro).toContain('file=/d/root.img,format=raw,if=none,id=root,readonly=on');
    expect(ro[ro.indexOf('-append') + 1]).toMatch(/ root=\/dev\/vda ro rootfstype=ext4$/);
    expect(ro.filter((a) => a.startsWith('virtio-9p'))).toEqual([]);
  });

  it('refuses a root share and a root disk together, and a relative disk path', () => {
    const both = spec({ rootShare: { tag: ROOT_TAG, hostPath: '/r' }, rootDisk: { path: '/d.img', readOnly: false } });
    expect(failure(() => qemuArgv(both)).message).toMatch(/both a root share and a root disk/);
    expect(failure(() => qemuArgv(spec({ rootDisk: { path: 'd.img', readOnly: false } }))).message).toMatch(
      /root disk "d.img" is not an absolute path/,
    );
  });
});

describe('qemuArgv on the microvm machine (golden)', () => {
  const KHZ = 2000000;
  it('-M microvm first; every virtio device in its -device (mmio) form; no option ROM on the NIC; tsc_early_khz under TCG', () => {
    const argv = qemuArgv(
      spec({
        machine: 'microvm',
        tscKhz: KHZ,
        net: { mode: 'nat' },
        rootShare: { tag: ROOT_TAG, hostPath: '/r' },
        shares: [share('data', '/d', false)],
      }),
    );
    expect(argv.slice(0, 3)).toEqual(['-M', 'microvm', '-nodefaults']);
    expect(argv.slice(argv.indexOf('-netdev'))).toEqual([
      '-netdev',
      'user,id=n0',
      '-device',
      'virtio-net-device,netdev=n0',
      '-fsdev',
      'local,id=fs0,path=/r,security_model=none',
      '-device',
      `virtio-9p-device,fsdev=fs0,mount_tag=${ROOT_TAG}`,
      '-fsdev',
      'local,id=fs1,path=/d,security_model=none',
      '-device',
      'virtio-9p-device,fsdev=fs1,mount_tag=data',
    ]);
    expect(argv[argv.indexOf('-append') + 1]).toMatch(/^console=ttyS0 quiet loglevel=4 .* tsc_early_khz=2000000$/);
    expect(argv.some((a) => a.includes('-pci'))).toBe(false);
  });

  it('a root disk is a virtio-blk-device; a TAP NIC is a virtio-net-device', () => {
    const argv = qemuArgv(
      spec({ machine: 'microvm', rootDisk: { path: '/d/root.img', readOnly: false }, net: { mode: 'tap:tap0' } }),
    );
    expect(argv).toContain('virtio-blk-device,drive=root');
    expect(argv).toContain('virtio-net-device,netdev=n0');
  });

  it('under KVM (kvm-clock) and with no known TSC rate: no tsc_early_khz', () => {
    for (const s of [spec({ machine: 'microvm', accel: 'kvm', tscKhz: KHZ }), spec({ machine: 'microvm' })]) {
      expect(qemuArgv(s)[qemuArgv(s).indexOf('-append') + 1]).not.toMatch(/tsc_early_khz/);
    }
  });

  it('pc (and no machine) stays as before: no -M, PCI devices', () => {
    const pc = qemuArgv(spec({ machine: 'pc', tscKhz: KHZ, net: { mode: 'nat' } }));
    expect(pc).toEqual(qemuArgv(spec({ net: { mode: 'nat' } })));
    expect(pc).not.toContain('-M');
    expect(pc).toContain('virtio-net-pci,netdev=n0,romfile=');
  });
});

/** QEMU on `s`'s argv, paused (-S): `check` gets its QMP, then QEMU quits cleanly (exit 0, nothing on stderr). */
async function onPausedQemu(s: VmSpec, check: (qmp: QmpClient) => Promise<void>): Promise<void> {
  const q = startQemu([...qemuArgv(s), '-S']);
  try {
    const qmp = await connectQmp(s.controlSocket);
    await check(qmp);
    await qmp.quit();
    expect(await q.exited).toEqual({ code: 0, signal: null });
    expect(q.stderr()).toBe('');
  } finally {
    await stopQemu(q);
  }
}

/** The devices QEMU made from -device (no id given). */
const anonDevices = (qmp: QmpClient) =>
  qmp.execute<{ name: string; type: string }[]>('qom-list', { path: '/machine/peripheral-anon' });

describe('qemuArgv against a real QEMU', () => {
  let tmp: string;
  beforeAll(() => {
    const { kernel } = ensureTools();
    tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'ok,q ')));
    for (const d of ['root', 'a:b c,d', 'ro,dir']) fs.mkdirSync(path.join(tmp, d));
    fs.symlinkSync(kernel, path.join(tmp, 'bz,Image'));
    fs.writeFileSync(path.join(tmp, 'init:rd'), Buffer.alloc(4096));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('starts paused with every share exported under its tag and fsdev', async () => {
    const s = spec({
      cpus: 1,
      memoryMiB: 128,
      kernelPath: path.join(tmp, 'bz,Image'),
      initrdPath: path.join(tmp, 'init:rd'),
      runDir: tmp,
      controlSocket: path.join(tmp, 'q,mp.sock'),
      rootShare: { tag: ROOT_TAG, hostPath: path.join(tmp, 'root') },
      shares: [share('colon', path.join(tmp, 'a:b c,d'), false), share('ro', path.join(tmp, 'ro,dir'), true)],
    });
    await onPausedQemu(s, async (qmp) => {
      expect(await qmp.queryStatus()).toEqual({ status: 'prelaunch', running: false });
      const devices = await anonDevices(qmp);
      const nine = devices
        .filter((d) => d.type === 'child<virtio-9p-pci>')
        .map((d) => d.name)
        .sort();
      expect(nine).toEqual(['device[0]', 'device[1]', 'device[2]']);
      const seen = [];
      for (const d of nine) {
        const backend = `/machine/peripheral-anon/${d}/virtio-backend`;
        seen.push([
          await qmp.execute('qom-get', { path: backend, property: 'mount_tag' }),
          await qmp.execute('qom-get', { path: backend, property: 'fsdev' }),
        ]);
      }
      expect(seen).toEqual([
        [ROOT_TAG, 'fs0'],
        ['colon', 'fs1'],
        ['ro', 'fs2'],
      ]);
    });
  });

  it('accepts the network options: one virtio-net NIC on the user netdev, restricted', async () => {
    const s = spec({
      cpus: 1,
      memoryMiB: 128,
      kernelPath: path.join(tmp, 'bz,Image'),
      runDir: tmp,
      controlSocket: path.join(tmp, 'net.sock'),
      net: { mode: 'restricted' },
    });
    await onPausedQemu(s, async (qmp) => {
      const devices = await anonDevices(qmp);
      const nics = devices.filter((d) => d.type === 'child<virtio-net-pci>');
      expect(nics).toHaveLength(1);
      const nic = `/machine/peripheral-anon/${nics[0]!.name}`;
      expect(await qmp.execute('qom-get', { path: nic, property: 'netdev' })).toBe('n0');
      expect(await qmp.execute('qom-get', { path: nic, property: 'romfile' })).toBe('');
      const info = await qmp.execute<string>('human-monitor-command', { 'command-line': 'info network' });
      expect(info).toMatch(/n0: index=0,type=user,net=10\.0\.2\.0,restrict=on/);
    });
  });
  it('microvm: QEMU takes the argv, with the 9p, net and blk devices on virtio-mmio', async () => {
    const disk = path.join(tmp, 'disk.img');
    fs.writeFileSync(disk, Buffer.alloc(1 << 20));
    const s = spec({
      machine: 'microvm',
      tscKhz: 2000000,
      cpus: 1,
      memoryMiB: 128,
      kernelPath: path.join(tmp, 'bz,Image'),
      runDir: tmp,
      controlSocket: path.join(tmp, 'mvm.sock'),
      rootDisk: { path: disk, readOnly: true },
      shares: [share('ro', path.join(tmp, 'ro,dir'), true)],
      net: { mode: 'nat' },
    });
    await onPausedQemu(s, async (qmp) => {
      expect(await qmp.queryStatus()).toEqual({ status: 'prelaunch', running: false });
      const devices = await anonDevices(qmp);
      expect(
        devices
          .map((d) => d.type)
          .filter((t) => t.startsWith('child<virtio'))
          .sort(),
      ).toEqual(['child<virtio-9p-device>', 'child<virtio-blk-device>', 'child<virtio-net-device>']);
      expect(await qmp.execute('qom-get', { path: '/machine', property: 'type' })).toBe('microvm-machine');
    });
  });
});
