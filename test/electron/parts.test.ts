import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { AppEvent, DownloadProgress, Vm } from '@contract';
import { createAttention, INDETERMINATE, NO_PROGRESS } from '../../src-main/electron/attention';
import { DEFAULT_WINDOW_STATE, loadWindowState, saveWindowState } from '../../src-main/electron/bounds';
import { EventPump } from '../../src-main/electron/events';
import { menuTemplate } from '../../src-main/electron/menu';
import { createQuitHandler, quitQuestion, type QuitDeps } from '../../src-main/electron/quit';
import { electronLauncher, supervisePlanArg } from '../../src-main/electron/supervise';
import { tmpDir } from '../helpers/tmp';

const t = tmpDir('oklinux-electron-parts-');
afterAll(() => t.cleanup());

const SCREEN = [{ x: 0, y: 0, width: 1920, height: 1080 }];

describe('window bounds', () => {
  it('round-trips through an atomically written JSON file', () => {
    const file = path.join(t.dir, 'a', 'window-state.json');
    expect(saveWindowState(file, { x: 30, y: 40, width: 1024, height: 768, maximized: false })).toBe(true);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['window-state.json']);
    expect(loadWindowState(file, SCREEN)).toEqual({ x: 30, y: 40, width: 1024, height: 768, maximized: false });
  });

  it('falls back to the default for a missing, corrupt or out-of-range file', () => {
    const file = path.join(t.dir, 'bad.json');
    expect(loadWindowState(file, SCREEN)).toEqual(DEFAULT_WINDOW_STATE);
    fs.writeFileSync(file, '{"x": 1, "y"');
    expect(loadWindowState(file, SCREEN)).toEqual(DEFAULT_WINDOW_STATE);
    fs.writeFileSync(file, JSON.stringify({ width: 10, height: 10, maximized: false }));
    expect(loadWindowState(file, SCREEN)).toEqual(DEFAULT_WINDOW_STATE);
  });

  it('keeps the size but drops a position that is on no display any more', () => {
    const file = path.join(t.dir, 'offscreen.json');
    saveWindowState(file, { x: 3000, y: 100, width: 800, height: 600, maximized: true });
    expect(loadWindowState(file, SCREEN)).toEqual({ width: 800, height: 600, maximized: true });
    expect(loadWindowState(file, [...SCREEN, { x: 1920, y: 0, width: 2560, height: 1440 }])).toMatchObject({ x: 3000 });
  });

  it('reports a file it could not write instead of throwing', () => {
    expect(saveWindowState('/proc/version/window-state.json', DEFAULT_WINDOW_STATE)).toBe(false);
  });
});

describe('event pump', () => {
  const ev = (n: number): AppEvent => ({ type: 'console:data', vm: 'a', data: String(n) });

  it('queues until open, delivers in order, queues again when paused', () => {
    const sent: AppEvent[] = [];
    const pump = new EventPump((e) => sent.push(e));
    pump.push(ev(1));
    pump.push(ev(2));
    expect(sent).toEqual([]);
    pump.open();
    expect(sent).toEqual([ev(1), ev(2)]);
    pump.push(ev(3));
    expect(sent).toHaveLength(3);
    pump.pause();
    pump.push(ev(4));
    expect(sent).toHaveLength(3);
    pump.open();
    expect(sent.at(-1)).toEqual(ev(4));
  });

  it('keeps only the newest events while closed', () => {
    const sent: AppEvent[] = [];
    const pump = new EventPump((e) => sent.push(e), 3);
    for (let i = 1; i <= 5; i++) pump.push(ev(i));
    pump.open();
    expect(sent).toEqual([ev(3), ev(4), ev(5)]);
  });
});

describe('progress bar and notifications', () => {
  const dl = (id: string, state: DownloadProgress['state'], bytes: number, total: number | null): AppEvent => ({
    type: 'download:progress',
    download: {
      id,
      url: `https://x/${id}`,
      label: `kernel ${id}`,
      bytes,
      total,
      rate: 0,
      eta: null,
      state,
      error: null,
    },
  });
  const vm = (name: string, state: Vm['state'], lastError: string | null = null): AppEvent => ({
    type: 'vm:state',
    vm: {
      name,
      image: 'img',
      cpus: 1,
      memoryMiB: 512,
      append: '',
      backend: 'auto',
      accel: 'auto',
      net: 'nat',
      state,
      pid: null,
      startedAt: null,
      exitCode: state === 'crashed' ? 137 : null,
      exitSignal: null,
      lastError,
      rootDir: null,
      managedRoot: null,
      rootDisk: null,
      rootDiskSource: null,
      rootDiskBytes: null,
      rootDiskInPlace: false,
      pendingRestart: false,
    },
  });

  it('follows the downloads in flight and hides when they end', () => {
    const sink = { setProgress: vi.fn(), notify: vi.fn() };
    const on = createAttention(sink);
    on(dl('a', 'running', 25, 100));
    on(dl('a', 'running', 25, 100));
    on(dl('b', 'running', 75, 300));
    on(dl('a', 'running', 100, 100));
    on(dl('c', 'queued', 0, null));
    on(dl('c', 'failed', 0, null));
    on(dl('a', 'done', 100, 100));
    on(dl('b', 'cancelled', 75, 300));
    expect(sink.setProgress.mock.calls.map(([v]) => v)).toEqual([
      0.25,
      175 / 400,
      INDETERMINATE,
      175 / 400,
      0.25,
      NO_PROGRESS,
    ]);
    expect(sink.notify.mock.calls).toEqual([['Download finished', 'kernel a is downloaded and verified.']]);
    on(dl('a', 'done', 100, 100));
    expect(sink.notify).toHaveBeenCalledTimes(1);
  });

  it('notifies when a VM crashes, once, and not for VMs that had crashed before', () => {
    const sink = { setProgress: vi.fn(), notify: vi.fn() };
    const on = createAttention(sink, [{ name: 'old', state: 'crashed' }]);
    on(vm('old', 'crashed'));
    on(vm('web', 'running'));
    on(vm('web', 'crashed', 'QEMU exited: out of memory'));
    on(vm('web', 'crashed', 'QEMU exited: out of memory'));
    on(vm('db', 'starting'));
    on(vm('db', 'crashed'));
    expect(sink.notify.mock.calls).toEqual([
      ['VM web crashed', 'web stopped unexpectedly: QEMU exited: out of memory. Open okLinux to restart it.'],
      ['VM db crashed', 'db stopped unexpectedly: exit code 137. Open okLinux to restart it.'],
    ]);
    expect(sink.setProgress).not.toHaveBeenCalled();
  });
});

describe('quitting with VMs running', () => {
  const deps = (running: string[], choice: 'stop' | 'leave' | 'cancel') => {
    const d = {
      runningVms: vi.fn(() => Promise.resolve(running)),
      ask: vi.fn(() => Promise.resolve(choice)),
      stopVm: vi.fn((name: string) => (name === 'stuck' ? Promise.reject(new Error('timed out')) : Promise.resolve())),
      beforeExit: vi.fn(() => Promise.resolve()),
      exit: vi.fn(),
      report: vi.fn(),
    } satisfies QuitDeps;
    return d;
  };
  const quit = async (d: QuitDeps & { exit: ReturnType<typeof vi.fn>; ask: ReturnType<typeof vi.fn> }) => {
    const handler = createQuitHandler(d);
    const event = { preventDefault: vi.fn() };
    handler(event);
    expect(event.preventDefault).toHaveBeenCalled();
    await vi.waitFor(() => expect(d.exit.mock.calls.length + d.ask.mock.results.length).toBeGreaterThan(0));
    return handler;
  };

  it('asks, then stops them and exits', async () => {
    const d = deps(['web', 'db'], 'stop');
    await quit(d);
    await vi.waitFor(() => expect(d.exit).toHaveBeenCalledWith(0));
    expect(d.ask).toHaveBeenCalledWith(['web', 'db']);
    expect(d.stopVm.mock.calls).toEqual([['web'], ['db']]);
    expect(d.beforeExit).toHaveBeenCalled();
  });

  it('leaves them running when asked to', async () => {
    const d = deps(['web'], 'leave');
    await quit(d);
    await vi.waitFor(() => expect(d.exit).toHaveBeenCalledWith(0));
    expect(d.stopVm).not.toHaveBeenCalled();
  });

  it('stays open on Cancel, and asks again on the next quit', async () => {
    const d = deps(['web'], 'cancel');
    const handler = await quit(d);
    await vi.waitFor(() => expect(d.ask).toHaveBeenCalledTimes(1));
    await Promise.resolve();
    handler({ preventDefault: vi.fn() });
    await vi.waitFor(() => expect(d.ask).toHaveBeenCalledTimes(2));
    expect(d.exit).not.toHaveBeenCalled();
    expect(d.beforeExit).not.toHaveBeenCalled();
  });

  it('reports VMs that would not stop, and still exits', async () => {
    const d = deps(['web', 'stuck'], 'stop');
    await quit(d);
    await vi.waitFor(() => expect(d.exit).toHaveBeenCalledWith(0));
    expect(d.report).toHaveBeenCalledWith(expect.stringContaining('stuck: Error: timed out'));
  });

  it('words the question for one VM and for several', () => {
    expect(quitQuestion(['web']).message).toBe('The VM web is still running.');
    expect(quitQuestion(['web', 'db'])).toMatchObject({
      message: '2 VMs are still running.',
      detail: expect.stringContaining('web, db'),
    });
  });
});

describe('menu', () => {
  it('has the standard edit roles, dev tools only in development, and its own items', () => {
    const actions = { openDataFolder: vi.fn(), openProjectPage: vi.fn() };
    const dev = JSON.stringify(menuTemplate({ ...actions, isMac: false, devTools: true }));
    const prod = menuTemplate({ ...actions, isMac: true, devTools: false });
    expect(dev).toContain('toggleDevTools');
    expect(JSON.stringify(prod)).not.toContain('toggleDevTools');
    expect(prod[0]).toEqual({ role: 'appMenu' });
    expect(prod.map((m) => m.role ?? m.label)).toContain('editMenu');
    const file = prod.find((m) => m.label === 'File')!.submenu as { label?: string; click?: () => void }[];
    file.find((i) => i.label === 'Open Data Folder')!.click!();
    expect(actions.openDataFolder).toHaveBeenCalled();
  });
});

describe('supervisor launching', () => {
  it('starts the app binary itself with the flag (RunAsNode is fused off)', () => {
    expect(electronLauncher({ isPackaged: true, getAppPath: () => '/x' }, '/opt/okLinux/oklinux-desktop', {})).toEqual({
      command: '/opt/okLinux/oklinux-desktop',
      args: ['--oklinux-supervise'],
    });
    expect(electronLauncher({ isPackaged: false, getAppPath: () => '/src/app' }, '/n/electron', {})).toEqual({
      command: '/n/electron',
      args: ['/src/app', '--oklinux-supervise'],
    });
    const appImage = { APPIMAGE: '/home/u/okLinux.AppImage' };
    expect(electronLauncher({ isPackaged: true, getAppPath: () => '/x' }, '/tmp/.mount_x/oklinux', appImage)).toEqual({
      command: '/home/u/okLinux.AppImage',
      args: ['--oklinux-supervise'],
    });
  });

  it('recognises the flag and its plan file in argv', () => {
    expect(supervisePlanArg(['/opt/okLinux/oklinux-desktop'])).toBeNull();
    expect(supervisePlanArg(['/e', '/src/app', '--oklinux-supervise', '/run/vm/launch.json'])).toBe(
      '/run/vm/launch.json',
    );
    expect(() => supervisePlanArg(['/e', '--oklinux-supervise'])).toThrow(/needs the path of a launch plan/);
  });
});
