// @vitest-environment jsdom
// Settings saves only what changed; in a browser the program setting (bldyPath) is read-only and never sent.
// Its system check shows the doctor's warnings and whether okLinux runs as root.
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import type { DoctorReport, OkLinuxApi, Settings as SettingsValue } from '@contract';
import { bridgeContext, type Bridge } from '@renderer/lib/bridge';
import { settingsPatch, formFromSettings } from '@renderer/lib/settings-form';
import Settings from '@renderer/components/Settings.svelte';

afterEach(() => cleanup());

const SAVED: SettingsValue = {
  backend: 'auto',
  accel: 'auto',
  bldyPath: '/opt/bldy/bin/bldy',
  githubApi: 'https://api.github.com',
  proxy: null,
};

/** An engine stand-in that records every settings:set patch. */
function fakeBridge(kind: Bridge['kind'], report?: DoctorReport) {
  const patches: Partial<SettingsValue>[] = [];
  let current = { ...SAVED };
  const api = {
    system: {
      info: async () => ({ version: '1.0.0', dataDir: '/home/ana/.local/share/oklinux' }),
      doctor: () => (report ? Promise.resolve(report) : new Promise(() => undefined)),
    },
    settings: {
      get: async () => current,
      set: async (patch: Partial<SettingsValue>) => {
        patches.push(patch);
        current = { ...current, ...patch };
        return current;
      },
    },
  } as unknown as OkLinuxApi;
  const bridge: Bridge = {
    api,
    kind,
    pathForFile: null,
    pickFolders: null,
    connection: { state: () => ({ status: 'open' }), onState: () => () => undefined, reconnectNow: () => undefined },
    tokenMissing: false,
  };
  return { bridge, patches };
}

async function renderSettings(bridge: Bridge) {
  render(Settings, { context: bridgeContext(bridge) });
  await waitFor(() => expect(screen.getByTestId('settings-form')).toBeTruthy());
}

describe('settings patch', () => {
  it('holds only the settings that changed, empty fields meaning none', () => {
    const form = formFromSettings(SAVED);
    expect(settingsPatch(SAVED, form)).toEqual({});
    expect(settingsPatch(SAVED, { ...form, accel: 'tcg', proxy: '  ' })).toEqual({ accel: 'tcg' });
    expect(settingsPatch(SAVED, { ...form, bldyPath: ' ', proxy: 'http://p:3128 ' })).toEqual({
      bldyPath: null,
      proxy: 'http://p:3128',
    });
  });
});

describe('Settings view', () => {
  it('in a browser: bldy path is read-only, says where to set it, and is never sent', async () => {
    const { bridge, patches } = fakeBridge('browser');
    await renderSettings(bridge);
    const bldy = screen.getByTestId<HTMLInputElement>('settings-bldy');
    expect(bldy.value).toBe('/opt/bldy/bin/bldy');
    expect(bldy.readOnly).toBe(true);
    expect(screen.getByTestId('settings-bldy-locked').textContent).toContain('oklinux config set bldyPath PATH');
    await fireEvent.change(screen.getByTestId('settings-accel'), { target: { value: 'tcg' } });
    await fireEvent.submit(screen.getByTestId('settings-form'));
    await waitFor(() => expect(screen.getByTestId('settings-message').textContent).toContain('Saved'));
    expect(patches).toEqual([{ accel: 'tcg' }]);
  });

  it('in the desktop app: bldy path can be changed, and only it is sent', async () => {
    const { bridge, patches } = fakeBridge('electron');
    await renderSettings(bridge);
    const bldy = screen.getByTestId<HTMLInputElement>('settings-bldy');
    expect(bldy.readOnly).toBe(false);
    expect(screen.queryByTestId('settings-bldy-locked')).toBeNull();
    await fireEvent.input(bldy, { target: { value: '/usr/local/bin/bldy' } });
    await fireEvent.submit(screen.getByTestId('settings-form'));
    await waitFor(() => expect(patches).toEqual([{ bldyPath: '/usr/local/bin/bldy' }]));
  });
});

const REPORT: DoctorReport = {
  platform: 'linux 6.1.0',
  arch: 'x64',
  kvm: { present: true, readWrite: true, path: '/dev/kvm' },
  qemu: { path: '/usr/bin/qemu-system-x86_64', version: '7.2.0' },
  vmm: { chosen: 'qemu', path: '/usr/bin/qemu-system-x86_64', reason: 'bldy is not installed; QEMU found on PATH' },
  dataDir: '/root/.local/share/oklinux',
  schemaVersion: 3,
  freeDiskBytes: 10 * 1024 ** 3,
  runningAsRoot: true,
  warnings: [
    'okLinux runs as root (euid 0), so a guest can make root-owned set-user-ID programs in every writable share, ' +
      'which any local user could run. okLinux clears those bits as they appear, but run okLinux as a normal user.',
    'okLinux tightened the permissions of /root/.local/share/oklinux (was 0755) so other users cannot read it',
  ],
};

describe('Settings: system check', () => {
  it('shows the VMM and why, that okLinux runs as root, and every doctor warning', async () => {
    const { bridge } = fakeBridge('browser', REPORT);
    render(Settings, { context: bridgeContext(bridge) });
    const report = screen.getByTestId('doctor-report');
    await waitFor(() => expect(within(report).getByTestId('doctor-root').textContent).toContain('yes'));
    expect(report.textContent).toContain('bldy is not installed; QEMU found on PATH');
    expect(screen.getByTestId('doctor-root').textContent).toContain('run okLinux as a normal user');
    const warnings = within(report).getByTestId('doctor-warnings');
    expect(warnings.getAttribute('role')).toBe('status');
    expect(
      within(warnings)
        .getAllByTestId('doctor-warning')
        .map((w) => w.textContent),
    ).toEqual(REPORT.warnings);
  });

  it('as a normal user: root "no", and says there are no warnings', async () => {
    const { bridge } = fakeBridge('browser', { ...REPORT, runningAsRoot: false, warnings: [] });
    render(Settings, { context: bridgeContext(bridge) });
    await waitFor(() => expect(screen.getByTestId('doctor-root').textContent?.trim()).toBe('no'));
    expect(screen.queryAllByTestId('doctor-warning')).toEqual([]);
    expect(screen.getByTestId('doctor-warnings').textContent).toContain('No warnings.');
  });
});
