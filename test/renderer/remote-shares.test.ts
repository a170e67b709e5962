// @vitest-environment jsdom
// The VM detail's shares: each remote 9p share with its URL and the state of its mount (the problem when
// unreachable), and "Add remote share" with a URL; a VM with no network offers no remote shares.
import { describe, expect, it } from 'vitest';
import { fireEvent, screen, waitFor, within } from '@testing-library/svelte';
import type { OkLinuxApi, Share, Vm } from '@contract';
import { browserBridge, quietApi, renderApp, useAppDom } from '../helpers/renderer';
import { sampleVm as vm } from '../helpers/sample-vm';

useAppDom();

function fakeEngine(vms: Vm[]) {
  const shares: Share[] = [
    {
      vm: 'web',
      tag: 'data',
      hostPath: '9p://127.0.0.1:5640/srv/data',
      readOnly: false,
      guestPath: '/mnt/data',
      pending: false,
      remote: {
        url: '9p://127.0.0.1:5640/srv/data',
        state: 'unreachable',
        problem: 'cannot reach 127.0.0.1:5640: connection refused (is the server running?)',
      },
    },
    {
      vm: 'web',
      tag: 'docs',
      hostPath: '9p://127.0.0.1:564/docs',
      readOnly: true,
      guestPath: '/mnt/docs',
      pending: false,
      remote: { url: '9p://127.0.0.1:564/docs', state: 'mounted', problem: null },
    },
  ];
  const calls: { op: string; input: unknown }[] = [];
  const api = {
    system: {
      doctor: async () => ({ runningAsRoot: false, warnings: [] }),
      info: async () => ({ version: '1', dataDir: '/d' }),
    },
    vms: { list: async () => vms },
    images: { list: async () => [] },
    downloads: { list: async () => [] },
    catalog: { list: async () => ({ entries: [], warnings: [] }) },
    shares: {
      list: async ({ vm: name }: { vm: string }) => shares.filter((s) => s.vm === name),
      addRemote: async (input: { vm: string; url: string; readOnly: boolean; ca?: string; cert?: string }) => {
        calls.push({ op: 'shares.addRemote', input });
        const s: Share = {
          vm: input.vm,
          tag: `new${shares.length}`,
          hostPath: input.url,
          readOnly: input.readOnly,
          guestPath: '/mnt/new',
          pending: true,
          remote: {
            url: input.url,
            state: 'idle',
            problem: null,
            ...(input.ca ? { tls: { ca: input.ca, ...(input.cert ? { cert: input.cert } : {}) } } : {}),
          },
        };
        shares.push(s);
        return s;
      },
    },
    ports: { list: async () => [] },
    ...quietApi,
  } as unknown as OkLinuxApi;
  return { bridge: browserBridge(api), calls };
}

const renderVm = (name: string, engine: ReturnType<typeof fakeEngine>) => renderApp(`#/vms/${name}`, engine.bridge);

describe('VM detail: remote shares', () => {
  it("shows each remote share's URL and the state of its mount, with the problem when unreachable", async () => {
    const engine = fakeEngine([vm('web', { state: 'running' })]);
    await renderVm('web', engine);
    await waitFor(() => expect(screen.getAllByTestId('share-row')).toHaveLength(2));
    const [data, docs] = screen.getAllByTestId('share-row');
    expect(data!.textContent).toContain('9p://127.0.0.1:5640/srv/data');
    const state = within(data!).getByTestId('share-remote-state');
    expect(state.dataset.state).toBe('unreachable');
    expect(state.textContent).toBe(
      'Unreachable: cannot reach 127.0.0.1:5640: connection refused (is the server running?)',
    );
    expect(within(docs!).getByTestId('share-remote-state').textContent).toBe('Mounted');
  });

  it('"Add remote share" sends the URL and read-only, and lists the new share as applying at the next start', async () => {
    const engine = fakeEngine([vm('web')]);
    await renderVm('web', engine);
    await waitFor(() => expect(screen.getAllByTestId('share-row')).toHaveLength(2));
    await fireEvent.input(screen.getByTestId('remote-share-url'), { target: { value: ' 9p://127.0.0.1/srv/x ' } });
    await fireEvent.click(screen.getByTestId('remote-share-readonly'));
    await fireEvent.click(screen.getByTestId('remote-share-add'));
    await waitFor(() => expect(screen.getAllByTestId('share-row')).toHaveLength(3));
    expect(engine.calls).toEqual([
      { op: 'shares.addRemote', input: { vm: 'web', url: '9p://127.0.0.1/srv/x', readOnly: true } },
    ]);
    const added = screen.getAllByTestId('share-row')[2]!;
    expect(within(added).getByTestId('share-pending').textContent).toBe('Applies at next start');
    expect((screen.getByTestId('remote-share-url') as HTMLInputElement).value).toBe('');
  });

  it('a 9p+quic:// URL asks for the CA (required) and an optional client certificate and key, and sends their paths', async () => {
    const engine = fakeEngine([vm('web')]);
    await renderVm('web', engine);
    await waitFor(() => expect(screen.getAllByTestId('share-row')).toHaveLength(2));
    expect(screen.queryByTestId('remote-share-tls')).toBeNull();
    await fireEvent.input(screen.getByTestId('remote-share-url'), {
      target: { value: '9p+quic://files.example:4433/srv/x' },
    });
    expect(screen.getByTestId('remote-share-tls')).toBeTruthy();
    const add = screen.getByTestId('remote-share-add') as HTMLButtonElement;
    expect(add.disabled).toBe(true);
    await fireEvent.input(screen.getByTestId('remote-share-ca'), { target: { value: ' /etc/jet/ca.pem ' } });
    await fireEvent.input(screen.getByTestId('remote-share-cert'), { target: { value: '/etc/jet/client.pem' } });
    await fireEvent.input(screen.getByTestId('remote-share-key'), { target: { value: '/etc/jet/client.key' } });
    expect(add.disabled).toBe(false);
    await fireEvent.click(add);
    await waitFor(() => expect(screen.getAllByTestId('share-row')).toHaveLength(3));
    expect(engine.calls).toEqual([
      {
        op: 'shares.addRemote',
        input: {
          vm: 'web',
          url: '9p+quic://files.example:4433/srv/x',
          readOnly: false,
          ca: '/etc/jet/ca.pem',
          cert: '/etc/jet/client.pem',
          key: '/etc/jet/client.key',
        },
      },
    ]);
    const added = screen.getAllByTestId('share-row')[2]!;
    expect(within(added).getByTestId('share-tls').textContent).toBe(
      'CA /etc/jet/ca.pem, client certificate /etc/jet/client.pem',
    );
    expect(within(added).getByTestId('share-remote-state').textContent).toBe('Not mounted (VM stopped)');
    // the form is cleared, and a plain 9p:// URL sends no TLS files
    expect(screen.queryByTestId('remote-share-tls')).toBeNull();
    await fireEvent.input(screen.getByTestId('remote-share-url'), { target: { value: '9p://127.0.0.1/srv/y' } });
    await fireEvent.click(screen.getByTestId('remote-share-add'));
    await waitFor(() => expect(engine.calls).toHaveLength(2));
    expect(engine.calls[1]!.input).toEqual({ vm: 'web', url: '9p://127.0.0.1/srv/y', readOnly: false });
  });

  it('a VM with no network offers no remote shares, and says why', async () => {
    const engine = fakeEngine([vm('dark', { net: 'none' })]);
    await renderVm('dark', engine);
    expect((screen.getByTestId('remote-share-url') as HTMLInputElement).disabled).toBe(true);
    expect(within(screen.getByTestId('remote-share-form')).getByText(/need a NAT or restricted network/)).toBeTruthy();
  });
});
