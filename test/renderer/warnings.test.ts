// @vitest-environment jsdom
// The engine's warnings reach people: `warning` events show an app-wide banner (dismissible, announced as
// alerts), the VM detail lists the warnings of that VM's latest start only, and the engine's standing notices
// (system:doctor warnings) join the banner at connection, once.
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import type { AppEvent, DoctorReport, OkLinuxApi, Vm } from '@contract';
import type { Bridge, ConnectionState } from '@renderer/lib/bridge';
import App from '@renderer/App.svelte';

afterEach(() => {
  cleanup();
  history.replaceState(null, '', '/');
});

// xterm (the console in the VM detail) measures its box: jsdom has no layout, so give it the browser APIs
// it calls (a canvas it can do without); what it draws is not looked at here.
HTMLCanvasElement.prototype.getContext = (() => null) as unknown as HTMLCanvasElement['getContext'];
globalThis.ResizeObserver ??= class {
  observe(): void {}
  unobserve(): void {}
  disconnect(): void {}
} as unknown as typeof ResizeObserver;
window.matchMedia ??= ((query: string) => ({
  matches: false,
  media: query,
  addEventListener: () => undefined,
  removeEventListener: () => undefined,
  addListener: () => undefined,
  removeListener: () => undefined,
})) as unknown as typeof window.matchMedia;

const ROOT_RW =
  'The VM "dev" has writable shares (/home/ana/src). okLinux runs as root (euid 0), so a guest can make ' +
  'root-owned set-user-ID programs in every writable share, which any local user could run.';
const ROOT_DIR =
  'The root directory /srv/web-root of the VM "web" can be reached by other users, and its guest can make ' +
  'set-user-ID programs there. Keep it inside a folder only you can open (chmod 700 its parent).';
const TIGHTENED =
  'okLinux tightened the permissions of /home/ana/.local/share/oklinux (was 0755) so other users cannot read it';

const vm = (name: string, over: Partial<Vm> = {}): Vm => ({
  name,
  image: 'oklinux',
  cpus: 1,
  memoryMiB: 512,
  append: '',
  backend: 'auto',
  accel: 'auto',
  net: 'nat',
  state: 'running',
  pid: 100,
  startedAt: '2025-01-01T10:00:00.000Z',
  exitCode: null,
  exitSignal: null,
  lastError: null,
  rootDir: null,
  managedRoot: null,
  rootDisk: null,
  rootDiskSource: null,
  rootDiskBytes: null,
  rootDiskInPlace: false,
  pendingRestart: false,
  ...over,
});

/** An engine stand-in: VMs `dev` and `web`, an event stream the test drives, and a connection it can drop. */
function fakeEngine(notices: string[] = []) {
  const listeners = new Set<(e: AppEvent) => void>();
  const stateListeners = new Set<(s: ConnectionState) => void>();
  let state: ConnectionState = { status: 'open' };
  let doctorCalls = 0;
  const doctor = async (): Promise<DoctorReport> => {
    doctorCalls++;
    return { runningAsRoot: true, warnings: notices } as unknown as DoctorReport;
  };
  const api = {
    system: { doctor, info: async () => ({ version: '1.0.0', dataDir: '/d' }) },
    vms: { list: async () => [vm('dev'), vm('web')] },
    images: { list: async () => [] },
    downloads: { list: async () => [] },
    catalog: { list: async () => ({ entries: [], warnings: [] }) },
    shares: { list: async () => [] },
    ports: { list: async () => [] },
    console: {
      attach: async () => ({ tail: '' }),
      detach: async () => undefined,
      resize: async () => undefined,
      write: async () => undefined,
    },
    onEvent: (l: (e: AppEvent) => void) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  } as unknown as OkLinuxApi;
  const bridge: Bridge = {
    api,
    kind: 'browser',
    pathForFile: null,
    pickFolders: null,
    connection: {
      state: () => state,
      onState: (l) => {
        stateListeners.add(l);
        return () => stateListeners.delete(l);
      },
      reconnectNow: () => undefined,
    },
    tokenMissing: false,
  };
  return {
    bridge,
    emit: (e: AppEvent) => listeners.forEach((l) => l(e)),
    setState: (s: ConnectionState) => {
      state = s;
      stateListeners.forEach((l) => l(s));
    },
    doctorCalls: () => doctorCalls,
  };
}

async function renderApp(hash: string, engine: ReturnType<typeof fakeEngine>) {
  history.replaceState(null, '', `/${hash}`);
  render(App, { props: { bridge: engine.bridge } });
  await waitFor(() => expect(screen.getByTestId(hash === '#/vms' ? 'view-vms' : 'view-vm')).toBeTruthy());
}

const bannerTexts = (): string[] => screen.queryAllByTestId('warning').map((w) => w.textContent ?? '');

describe('warning banner', () => {
  it('a warning event shows an alert naming it; Dismiss hides it', async () => {
    const engine = fakeEngine();
    await renderApp('#/vms', engine);
    expect(screen.queryByTestId('warning-banner')).toBeNull();

    engine.emit({ type: 'warning', vm: 'dev', message: ROOT_RW });
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain(ROOT_RW);
    expect(alert.textContent).toContain('Warning:');

    await fireEvent.click(within(alert).getByRole('button', { name: 'Dismiss warning' }));
    expect(screen.queryByTestId('warning-banner')).toBeNull();
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('stacks different warnings once each, dismisses one or all', async () => {
    const engine = fakeEngine();
    await renderApp('#/vms', engine);
    engine.emit({ type: 'warning', vm: 'dev', message: ROOT_RW });
    engine.emit({ type: 'warning', vm: 'web', message: ROOT_DIR });
    engine.emit({ type: 'warning', vm: 'dev', message: ROOT_RW }); // the same again: not stacked
    await waitFor(() => expect(screen.getAllByRole('alert')).toHaveLength(2));
    expect(bannerTexts()).toEqual([expect.stringContaining(ROOT_DIR), expect.stringContaining(ROOT_RW)]);

    await fireEvent.click(within(screen.getAllByRole('alert')[0]!).getByRole('button', { name: 'Dismiss warning' }));
    expect(bannerTexts()).toEqual([expect.stringContaining(ROOT_RW)]);

    engine.emit({ type: 'warning', vm: 'web', message: ROOT_DIR });
    await waitFor(() => expect(screen.getAllByRole('alert')).toHaveLength(2));
    await fireEvent.click(screen.getByTestId('warning-dismiss-all'));
    expect(screen.queryByTestId('warning-banner')).toBeNull();
  });

  it("shows the engine's notices (system:doctor warnings) at connection, and not again once dismissed", async () => {
    const engine = fakeEngine([TIGHTENED]);
    await renderApp('#/vms', engine);
    await waitFor(() => expect(bannerTexts()).toEqual([expect.stringContaining(TIGHTENED)]));
    await fireEvent.click(screen.getByRole('button', { name: 'Dismiss warning' }));
    expect(screen.queryByTestId('warning-banner')).toBeNull();

    engine.setState({ status: 'closed', reason: 'the engine went away', retryAt: null });
    engine.setState({ status: 'open' }); // reconnected: everything is loaded again, the doctor too
    await waitFor(() => expect(engine.doctorCalls()).toBe(2));
    await new Promise((r) => setTimeout(r, 20));
    expect(screen.queryByTestId('warning-banner')).toBeNull();
  });
});

describe('VM detail warnings', () => {
  it("lists the warnings of its own VM only, as a status, and they stay after the banner's are dismissed", async () => {
    const engine = fakeEngine();
    await renderApp('#/vms/dev', engine);
    expect(screen.queryByTestId('vm-warnings')).toBeNull();

    engine.emit({ type: 'warning', vm: 'web', message: ROOT_DIR });
    engine.emit({ type: 'warning', vm: null, message: 'about the whole app' });
    engine.emit({ type: 'warning', vm: 'dev', message: ROOT_RW });
    const status = await screen.findByTestId('vm-warnings');
    expect(status.getAttribute('role')).toBe('status');
    expect(
      within(status)
        .getAllByTestId('vm-warning')
        .map((li) => li.textContent),
    ).toEqual([ROOT_RW]);

    await fireEvent.click(screen.getByTestId('warning-dismiss-all'));
    expect(screen.queryByTestId('warning-banner')).toBeNull();
    expect(within(screen.getByTestId('vm-warnings')).getAllByTestId('vm-warning')).toHaveLength(1);
  });

  it("keeps only the latest start's warnings: a new start drops the earlier ones", async () => {
    const engine = fakeEngine();
    await renderApp('#/vms/dev', engine);
    engine.emit({ type: 'warning', vm: 'dev', message: ROOT_RW });
    await screen.findByTestId('vm-warnings');

    engine.emit({ type: 'vm:state', vm: vm('dev', { state: 'stopped', pid: null }) });
    await new Promise((r) => setTimeout(r, 20));
    expect(screen.getAllByTestId('vm-warning')).toHaveLength(1); // still the latest start's, once stopped

    engine.emit({ type: 'vm:state', vm: vm('dev', { state: 'starting', pid: null }) });
    await waitFor(() => expect(screen.queryByTestId('vm-warnings')).toBeNull());
    const later = 'okLinux runs as root (euid 0)… The VM "dev" has no writable share now.';
    engine.emit({ type: 'vm:state', vm: vm('dev', { startedAt: '2025-01-01T11:00:00.000Z' }) });
    engine.emit({ type: 'warning', vm: 'dev', message: later });
    await waitFor(() => expect(screen.getAllByTestId('vm-warning').map((li) => li.textContent)).toEqual([later]));

    // a start this page did not see (no `starting` event; the list reloaded after a reconnection)
    engine.emit({ type: 'vm:state', vm: vm('dev', { startedAt: '2025-01-01T12:00:00.000Z' }) });
    await waitFor(() => expect(screen.queryByTestId('vm-warnings')).toBeNull());
  });
});
