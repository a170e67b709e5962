import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OkError } from '@contract/errors';
import {
  BLDY_SERIAL,
  bldyArgv,
  bldyStopArgv,
  planBldyShares,
  prepareBldyShares,
  type BldyPrepared,
} from '@core/vmm/bldy';
import type { ShareSpec, VmSpec } from '@core/vmm/types';
import { ROOT_TAG, mountOptions } from '@core/shares';

const SOCK = '/run/ok/7/ctl.sock';
const KERNEL = '/data/store/sha256/aa/bzImage';
const RW = 'trans=virtio,version=9p2000.L,msize=65560,cache=mmap';
const RO = `${RW},ro`;

function spec(over: Partial<VmSpec> = {}): VmSpec {
  return {
    name: 'dev',
    kernelPath: KERNEL,
    params: ['quiet loglevel=4', 'init=/sbin/init'],
    cpus: 2,
    memoryMiB: 1024,
    accel: 'kvm',
    runDir: '/run/ok/7',
    controlSocket: SOCK,
    shares: [],
    ...over,
  };
}

function share(tag: string, hostPath: string, readOnly: boolean, extra: Partial<ShareSpec> = {}): ShareSpec {
  return { tag, hostPath, readOnly, guestPath: `/mnt/${tag}`, mountOptions: mountOptions('bldy', readOnly), ...extra };
}

const prepared = (entries: [string, string][]): BldyPrepared => ({ sources: new Map(entries) });

function failure(fn: () => unknown): OkError {
  try {
    fn();
  } catch (e) {
    if (e instanceof OkError) return e;
    throw e;
  }
  throw new Error('expected an OkError');
}

describe('bldyArgv with a root disk (golden)', () => {
  it('--block PATH,root[,ro]: crosvm adds root=/dev/vda itself, the app adds rootfstype=ext4; never --root/--rwdisk', () => {
    const argv = bldyArgv(spec({ rootDisk: { path: '/d/root.img', readOnly: false } }), prepared([]));
    expect(argv).toEqual([
      'run',
      '-m',
      '1024',
      '-c',
      '2',
      '-p',
      'quiet loglevel=4',
      '-p',
      'init=/sbin/init',
      '-p',
      'rootfstype=ext4',
      '-s',
      SOCK,
      '--serial',
      BLDY_SERIAL,
      '--block',
      '/d/root.img,root',
      '--disable-sandbox',
      KERNEL,
    ]);
    const ro = bldyArgv(spec({ rootDisk: { path: '/d/a,b=c.img', readOnly: true } }), prepared([]));
    expect(ro[ro.indexOf('--block') + 1]).toBe('"/d/a,b=c.img",root,ro');
    for (const a of [...argv, ...ro]) expect(['--root', '--rwroot', '--disk', '--rwdisk']).not.toContain(a);
  });

  it('refuses a disk path with a double quote, and a root share together with a root disk', () => {
    expect(
      failure(() => bldyArgv(spec({ rootDisk: { path: '/d/a"b.img', readOnly: false } }), prepared([]))).message,
    ).toMatch(/has a quote, backslash or newline/);
    const both = spec({ rootShare: { tag: ROOT_TAG, hostPath: '/r' }, rootDisk: { path: '/d.img', readOnly: false } });
    expect(failure(() => bldyArgv(both, prepared([[ROOT_TAG, '/r']]))).message).toMatch(
      /both a root share and a root disk/,
    );
  });
});

describe('bldyArgv (golden)', () => {
  it('no shares, no initrd', () => {
    expect(bldyArgv(spec(), prepared([]))).toEqual([
      'run',
      '-m',
      '1024',
      '-c',
      '2',
      '-p',
      'quiet loglevel=4',
      '-p',
      'init=/sbin/init',
      '-s',
      SOCK,
      '--serial',
      'type=stdout,hardware=serial,num=1,console,stdin',
      '--disable-sandbox',
      KERNEL,
    ]);
    expect(BLDY_SERIAL).toBe('type=stdout,hardware=serial,num=1,console,stdin');
  });

  it('initrd, blank param groups dropped, ro and rw shares', () => {
    const s = spec({
      initrdPath: '/data/store/sha256/bb/initrd.img',
      params: ['console=ttyS0', '  ', ''],
      shares: [
        share('src', '/home/u/src', false),
        share('docs', '/home/u/My Docs', true, { guestPath: '/home/user/docs' }),
      ],
    });
    const argv = bldyArgv(
      s,
      prepared([
        ['src', '/home/u/src'],
        ['docs', '/home/u/My Docs'],
      ]),
    );
    expect(argv).toEqual([
      'run',
      '-m',
      '1024',
      '-c',
      '2',
      '-i',
      '/data/store/sha256/bb/initrd.img',
      '-p',
      'console=ttyS0',
      '-p',
      `oklinux.mount=src:/mnt/src:${RW}`,
      '-p',
      `oklinux.mount=docs:/home/user/docs:${RO}`,
      '-s',
      SOCK,
      '--serial',
      BLDY_SERIAL,
      '--shared-dir',
      '/home/u/src:src:type=p9',
      '--shared-dir',
      '/home/u/My Docs:docs:type=p9',
      '--disable-sandbox',
      KERNEL,
    ]);
  });

  it('root share', () => {
    const s = spec({
      params: ['quiet'],
      rootShare: { tag: ROOT_TAG, hostPath: '/data/vms/dev/root' },
      shares: [share('src', '/src', false)],
    });
    expect(
      bldyArgv(
        s,
        prepared([
          [ROOT_TAG, '/data/vms/dev/root'],
          ['src', '/src'],
        ]),
      ),
    ).toEqual([
      'run',
      '-m',
      '1024',
      '-c',
      '2',
      '-p',
      'quiet',
      '-p',
      'root=oklinux-root rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=65560,cache=loose rw',
      '-p',
      `oklinux.mount=src:/mnt/src:${RW}`,
      '-s',
      SOCK,
      '--serial',
      BLDY_SERIAL,
      '--shared-dir',
      '/data/vms/dev/root:oklinux-root:type=p9',
      '--shared-dir',
      '/src:src:type=p9',
      '--disable-sandbox',
      KERNEL,
    ]);
  });

  it('p9 options: ascii_casefold keeps --disable-sandbox, id mapping turns the sandbox on', () => {
    const casefold = spec({ shares: [share('w', '/w', false, { p9Options: ['ascii_casefold=true'] })] });
    expect(bldyArgv(casefold, prepared([['w', '/w']])).slice(-3)).toEqual([
      '/w:w:type=p9:ascii_casefold=true',
      '--disable-sandbox',
      KERNEL,
    ]);
    const mapped = spec({
      shares: [
        share('w', '/w', false, {
          p9Options: ['uid=1000', 'gid=1000', 'uidmap=1000 1000 1', 'gidmap=0 655360 1065, 1065 20119 1'],
        }),
      ],
    });
    expect(bldyArgv(mapped, prepared([['w', '/w']])).slice(-3)).toEqual([
      '--shared-dir',
      '/w:w:type=p9:uid=1000:gid=1000:uidmap=1000 1000 1:gidmap=0 655360 1065, 1065 20119 1',
      KERNEL,
    ]);
  });

  it('rejects p9 options bldy does not have, or malformed ones', () => {
    for (const opt of ['cache=always', 'timeout=5', 'ro', 'readonly=true', 'type=fs', 'writeback=true']) {
      const e = failure(() =>
        bldyArgv(spec({ shares: [share('w', '/w', false, { p9Options: [opt] })] }), prepared([['w', '/w']])),
      );
      expect(e.code, opt).toBe('UNSUPPORTED');
      expect(e.message).toContain(`"${opt}"`);
      expect(e.message).toContain('ascii_casefold, uid, gid, uidmap and gidmap');
    }
    for (const opt of [
      'ascii_casefold=yes',
      'ascii_casefold',
      'uid=-1',
      'uid=x',
      'uidmap=0:1000:1',
      'gidmap=',
      'gid=99999999999',
    ]) {
      const e = failure(() =>
        bldyArgv(spec({ shares: [share('w', '/w', false, { p9Options: [opt] })] }), prepared([['w', '/w']])),
      );
      expect(e.code, opt).toBe('INVALID_INPUT');
    }
  });

  it('rejects long, invalid, reserved and duplicate tags', () => {
    const run = (shares: ShareSpec[]) =>
      failure(() => bldyArgv(spec({ shares }), prepared(shares.map((s) => [s.tag, s.hostPath]))));
    expect(run([share('t'.repeat(32), '/a', false)]).message).toMatch(/at most 31 bytes/);
    expect(run([share('a:b', '/a', false, { guestPath: '/mnt/ab' })]).code).toBe('INVALID_INPUT');
    expect(run([share('a b', '/a', false, { guestPath: '/mnt/ab' })]).code).toBe('INVALID_INPUT');
    expect(run([share(ROOT_TAG, '/a', false, { guestPath: '/mnt/r' })]).message).toMatch(/reserved/);
    expect(run([share('x', '/a', false), share('x', '/b', false, { guestPath: '/mnt/y' })]).message).toMatch(
      /two shares use the tag "x"/,
    );
    expect(run([share('x', '/a', false), share('y', '/b', false, { guestPath: '/mnt/x' })]).message).toMatch(
      /two shares mount at \/mnt\/x/,
    );
  });

  it('rejects mount options bldy cannot honour', () => {
    const qemuOpts = share('w', '/w', false, { mountOptions: mountOptions('qemu', false) });
    expect(failure(() => bldyArgv(spec({ shares: [qemuOpts] }), prepared([['w', '/w']]))).message).toMatch(
      /msize=512000.*caps msize at 65560/,
    );
    const roWithoutRo = share('w', '/w', true, { mountOptions: RW });
    expect(failure(() => bldyArgv(spec({ shares: [roWithoutRo] }), prepared([['w', '/w']]))).message).toMatch(
      /read-only but .* lack "ro"/,
    );
    const spaced = share('w', '/w', false, { mountOptions: 'trans=virtio, ro' });
    expect(failure(() => bldyArgv(spec({ shares: [spaced] }), prepared([['w', '/w']]))).code).toBe('INVALID_INPUT');
  });

  it('rejects tcg, bad sizes, long socket paths and unprepared shares', () => {
    expect(failure(() => bldyArgv(spec({ accel: 'tcg' }), prepared([]))).code).toBe('UNSUPPORTED');
    expect(failure(() => bldyArgv(spec({ cpus: 0 }), prepared([]))).code).toBe('INVALID_INPUT');
    expect(failure(() => bldyArgv(spec({ memoryMiB: 1.5 }), prepared([]))).code).toBe('INVALID_INPUT');
    expect(failure(() => bldyArgv(spec({ controlSocket: '/' + 'x'.repeat(107) }), prepared([]))).message).toMatch(
      /longer than 107 bytes/,
    );
    expect(failure(() => bldyArgv(spec({ kernelPath: 'bzImage' }), prepared([]))).message).toMatch(
      /kernel "bzImage" is not an absolute path/,
    );
    expect(failure(() => bldyArgv(spec({ shares: [share('w', '/w', false)] }), prepared([]))).message).toMatch(
      /prepareBldyShares/,
    );
    expect(failure(() => bldyArgv(spec({ shares: [share('w', '/a:b', false)] }), prepared([['w', '/a:b']]))).code).toBe(
      'INTERNAL',
    );
  });

  it('refuses nat and restricted (crosvm has no user-mode networking), saying what to do; none is passed to the guest', () => {
    for (const mode of ['nat', 'restricted'] as const) {
      const e = failure(() => bldyArgv(spec({ net: { mode } }), prepared([])));
      expect(e.code).toBe('UNSUPPORTED');
      expect(e.message).toBe(
        `bldy cannot give the VM "dev" its network "${mode}": crosvm has no user-mode networking on Linux ` +
          `(it needs a TAP device). Use the QEMU backend (backend auto picks it for ${mode}), make the VM with ` +
          `--net tap:NAME for a TAP device you made (make it once, as root: "ip tuntap add dev tap0 mode tap user $USER" ` +
          `and "ip link set tap0 up", then give it an address ("ip addr add 192.168.100.1/24 dev tap0") and serve DHCP ` +
          `on it or set the guest's address yourself (add NAT with nftables/iptables for the internet)), or with --net none.`,
      );
    }
    const argv = bldyArgv(spec({ net: { mode: 'none' } }), prepared([]));
    expect(argv.filter((a) => a.startsWith('--net') || a.startsWith('--tap'))).toEqual([]);
    expect(argv.flatMap((a, i) => (argv[i - 1] === '-p' ? [a] : []))).toContain('oklinux.net=none');
  });

  it('tap:NAME is crosvm --net tap-name=NAME (golden); the guest asks DHCP on eth0 with no static fallback', () => {
    expect(bldyArgv(spec({ net: { mode: 'tap:okt0' } }), prepared([]))).toEqual([
      'run',
      '-m',
      '1024',
      '-c',
      '2',
      '-p',
      'quiet loglevel=4',
      '-p',
      'init=/sbin/init',
      '-p',
      'oklinux.net=eth0:::',
      '-s',
      SOCK,
      '--serial',
      'type=stdout,hardware=serial,num=1,console,stdin',
      '--net',
      'tap-name=okt0',
      '--disable-sandbox',
      KERNEL,
    ]);
    // the longest name Linux takes (IFNAMSIZ 16 with the NUL), with every allowed character
    const argv = bldyArgv(spec({ net: { mode: 'tap:a1_b2.c3-d4e5f6' } }), prepared([]));
    expect(argv[argv.indexOf('--net') + 1]).toBe('tap-name=a1_b2.c3-d4e5f6');
  });

  it('refuses TAP names Linux or the argv cannot take, and ports on a TAP', () => {
    const cases: [string, RegExp][] = [
      ['', /a TAP device needs a name: --net tap:NAME/],
      ['tap0123456789abc', /is 16 bytes; Linux interface names are at most 15 \(IFNAMSIZ\)/],
      ['tap,0', /may only have letters, digits/],
      ['a=b', /may only have letters, digits/],
      ['tap 0', /may only have letters, digits/],
      ['-tap', /may not start with "." or "-"/],
      ['.', /may not start with "." or "-"/],
      ['tap/0', /may only have letters, digits/],
    ];
    for (const [name, msg] of cases) {
      const e = failure(() => bldyArgv(spec({ net: { mode: `tap:${name}` } }), prepared([])));
      expect(e.code, name).toBe('INVALID_INPUT');
      expect(e.message, name).toMatch(msg);
    }
    const e = failure(() =>
      bldyArgv(
        spec({
          net: {
            mode: 'tap:tap0',
            forwards: [{ protocol: 'tcp', hostAddr: '127.0.0.1', hostPort: 8080, guestPort: 80 }],
          },
        }),
        prepared([]),
      ),
    );
    expect(e.message).toMatch(/cannot publish ports/);
  });

  it('rejects a kernel command line over 2047 bytes', () => {
    expect(failure(() => bldyArgv(spec({ params: ['x'.repeat(2040)] }), prepared([]))).message).toMatch(
      /command line would be 2054 bytes/,
    );
    expect(bldyArgv(spec({ params: ['x'.repeat(2033)] }), prepared([]))).toContain('x'.repeat(2033));
  });
});

describe('prepareBldyShares', () => {
  let tmp: string;
  let runDir: string;
  beforeAll(() => {
    tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'oklinux-bldy-')));
    runDir = path.join(tmp, 'run');
    fs.mkdirSync(runDir);
    for (const d of ['plain', 'a:b c,d', 'sp ace,comma', 'root:fs', 'target']) fs.mkdirSync(path.join(tmp, d));
    fs.symlinkSync(path.join(tmp, 'target'), path.join(tmp, 'alias'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const s = (): VmSpec =>
    spec({
      runDir,
      controlSocket: path.join(runDir, 'ctl.sock'),
      rootShare: { tag: ROOT_TAG, hostPath: path.join(tmp, 'root:fs') },
      shares: [
        share('plain', path.join(tmp, 'plain'), false),
        share('colon', path.join(tmp, 'a:b c,d'), true),
        share('space', path.join(tmp, 'sp ace,comma'), false),
        share('alias', path.join(tmp, 'alias'), false),
      ],
    });

  it('passes ":"-free real paths as they are and links the others under runDir/shares', async () => {
    const prep = await prepareBldyShares(s());
    expect(Object.fromEntries(prep.sources)).toEqual({
      [ROOT_TAG]: path.join(runDir, 'shares', ROOT_TAG) + '/.',
      plain: path.join(tmp, 'plain'),
      colon: path.join(runDir, 'shares', 'colon') + '/.',
      space: path.join(tmp, 'sp ace,comma'),
      alias: path.join(tmp, 'target'),
    });
    expect(fs.readlinkSync(path.join(runDir, 'shares', 'colon'))).toBe(path.join(tmp, 'a:b c,d'));
    expect(fs.readlinkSync(path.join(runDir, 'shares', ROOT_TAG))).toBe(path.join(tmp, 'root:fs'));
    // the link resolves to the shared directory itself
    fs.writeFileSync(path.join(tmp, 'a:b c,d', 'probe'), 'hi');
    expect(fs.readFileSync(path.join(prep.sources.get('colon')!, 'probe'), 'utf8')).toBe('hi');

    const argv = bldyArgv(s(), prep);
    const dirs = argv.flatMap((a, i) => (argv[i - 1] === '--shared-dir' ? [a] : []));
    expect(dirs).toEqual([
      `${runDir}/shares/${ROOT_TAG}/.:${ROOT_TAG}:type=p9`,
      `${tmp}/plain:plain:type=p9`,
      `${runDir}/shares/colon/.:colon:type=p9`,
      `${tmp}/sp ace,comma:space:type=p9`,
      `${tmp}/target:alias:type=p9`,
    ]);
    // each value splits on ':' into exactly SRC, TAG, type=p9, as crosvm parses it
    for (const d of dirs) expect(d.split(':')).toHaveLength(3);
  });

  it('planBldyShares gives the same command without touching the disk (symlinks unresolved)', async () => {
    const planned = planBldyShares(s());
    expect(Object.fromEntries(planned.sources)).toEqual({
      [ROOT_TAG]: path.join(runDir, 'shares', ROOT_TAG) + '/.',
      plain: path.join(tmp, 'plain'),
      colon: path.join(runDir, 'shares', 'colon') + '/.',
      space: path.join(tmp, 'sp ace,comma'),
      alias: path.join(tmp, 'alias'),
    });
    const prepared = await prepareBldyShares(s());
    const differing = bldyArgv(s(), planned).filter((a, i) => a !== bldyArgv(s(), prepared)[i]);
    expect(differing).toEqual([`${tmp}/alias:alias:type=p9`]);
  });

  it('is repeatable and drops stale links', async () => {
    fs.mkdirSync(path.join(runDir, 'shares'), { recursive: true });
    fs.symlinkSync(tmp, path.join(runDir, 'shares', 'stale'));
    await prepareBldyShares(s());
    await prepareBldyShares(s());
    expect(fs.readdirSync(path.join(runDir, 'shares')).sort()).toEqual(['colon', ROOT_TAG].sort());
  });

  it('fails with NOT_FOUND naming a missing folder', async () => {
    const missing = spec({ runDir, shares: [share('gone', path.join(tmp, 'gone'), false)] });
    await expect(prepareBldyShares(missing)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining(path.join(tmp, 'gone')),
    });
  });
});

describe('bldyStopArgv', () => {
  it('presses the power button, then stops', () => {
    expect(bldyStopArgv(SOCK)).toEqual([
      ['powerbtn', SOCK],
      ['stop', SOCK],
    ]);
  });
});
