// @vitest-environment jsdom
// The VM detail shows the VM's network and its published ports: each row with what waits for the next
// start and whether the network can reach it, a form that publishes one (127.0.0.1 unless another address
// is written, which it flags before sending), and Remove. The new-VM form sends the network chosen.
import { describe, expect, it } from 'vitest';
import { fireEvent, screen, waitFor, within } from '@testing-library/svelte';
import type { OkLinuxApi, Port, Vm } from '@contract';
import { browserBridge, quietApi, renderApp, useAppDom } from '../helpers/renderer';
import { sampleVm } from '../helpers/sample-vm';

useAppDom();

const vm = sampleVm;

function fakeEngine(vms: Vm[]) {
  const ports: Port[] = [
    {
      vm: 'web',
      hostAddr: '127.0.0.1',
      hostPort: 8080,
      guestPort: 80,
      protocol: 'tcp',
      exposed: false,
      pending: false,
    },
    { vm: 'web', hostAddr: '0.0.0.0', hostPort: 2222, guestPort: 22, protocol: 'tcp', exposed: true, pending: true },
  ];
  const calls: { op: string; input: unknown }[] = [];
  const api = {
    system: {
      doctor: async () => ({ runningAsRoot: false, warnings: [] }),
      info: async () => ({ version: '1', dataDir: '/d' }),
    },
    vms: {
      list: async () => vms,
      create: async (input: { name: string; net?: Vm['net'] }) => {
        calls.push({ op: 'vms.create', input });
        return vm(input.name, { net: input.net ?? 'nat' });
      },
    },
    images: {
      list: async () => [
        { ref: 'oklinux', kind: 'bundle', version: '1', cmdline: '', installedAt: '', size: 0, artifacts: [] },
      ],
    },
    downloads: { list: async () => [] },
    catalog: { list: async () => ({ entries: [], warnings: [] }) },
    shares: { list: async () => [] },
    ports: {
      list: async ({ vm: name }: { vm: string }) => ports.filter((p) => p.vm === name),
      add: async (input: Omit<Port, 'exposed' | 'pending'>) => {
        calls.push({ op: 'ports.add', input });
        const p = { ...input, exposed: !input.hostAddr.startsWith('127.'), pending: false } as Port;
        ports.push(p);
        return p;
      },
      remove: async (input: { hostPort: number }) => {
        calls.push({ op: 'ports.remove', input });
        ports.splice(
          ports.findIndex((p) => p.hostPort === input.hostPort),
          1,
        );
        return null;
      },
    },
    ...quietApi,
  } as unknown as OkLinuxApi;
  return { bridge: browserBridge(api), calls };
}

const renderVm = (name: string, engine: ReturnType<typeof fakeEngine>) => renderApp(`#/vms/${name}`, engine.bridge);

describe('VM detail: network and ports', () => {
  it('shows the network and each port, flagging one reachable from the network and one waiting for a start', async () => {
    const engine = fakeEngine([vm('web')]);
    await renderVm('web', engine);
    expect(screen.getByTestId('vm-net').textContent).toBe('NAT network');
    await waitFor(() => expect(screen.getAllByTestId('port-row')).toHaveLength(2));
    const [local, open] = screen.getAllByTestId('port-row');
    expect(local!.textContent).toContain('127.0.0.1:8080 → 80/tcp');
    expect(within(local!).queryByTestId('port-exposed')).toBeNull();
    expect(open!.textContent).toContain('0.0.0.0:2222 → 22/tcp');
    expect(within(open!).getByTestId('port-exposed').textContent).toBe('Reachable from the network');
    expect(within(open!).getByTestId('port-pending').textContent).toBe('Applies at next start');
  });

  it('publishes on 127.0.0.1 by default, warns before another address, and removes', async () => {
    const engine = fakeEngine([vm('web')]);
    await renderVm('web', engine);
    await waitFor(() => expect(screen.getAllByTestId('port-row')).toHaveLength(2));
    expect(screen.queryByTestId('port-addr-warning')).toBeNull();
    await fireEvent.input(screen.getByTestId('port-host'), { target: { value: '9090' } });
    await fireEvent.input(screen.getByTestId('port-guest'), { target: { value: '90' } });
    await fireEvent.click(screen.getByTestId('port-add'));
    await waitFor(() => expect(screen.getAllByTestId('port-row')).toHaveLength(3));
    expect(engine.calls.at(-1)).toEqual({
      op: 'ports.add',
      input: { vm: 'web', hostAddr: '127.0.0.1', hostPort: 9090, guestPort: 90, protocol: 'tcp' },
    });
    await fireEvent.input(screen.getByTestId('port-addr'), { target: { value: '0.0.0.0' } });
    expect(screen.getByTestId('port-addr-warning').textContent).toContain('0.0.0.0 is reachable from the network');
    await fireEvent.click(within(screen.getAllByTestId('port-row')[0]!).getByTestId('port-remove'));
    await waitFor(() => expect(screen.getAllByTestId('port-row')).toHaveLength(2));
    expect(engine.calls.at(-1)).toMatchObject({ op: 'ports.remove', input: { vm: 'web', hostPort: 8080 } });
  });

  it('a VM with no network says so and offers no ports', async () => {
    const engine = fakeEngine([vm('dark', { net: 'none' })]);
    await renderVm('dark', engine);
    expect(screen.getByTestId('vm-net').textContent).toBe('no network');
    expect(within(screen.getByTestId('ports')).getByText(/has no network/)).toBeTruthy();
    expect(screen.queryByTestId('port-add')).toBeNull();
  });
});

describe('new VM form', () => {
  it('offers NAT by default and sends the network chosen', async () => {
    const engine = fakeEngine([vm('web')]);
    await renderApp('#/vms', engine.bridge);
    await fireEvent.click(await screen.findByTestId('new-vm'));
    const net = (await screen.findByTestId('new-vm-net')) as HTMLSelectElement;
    expect(net.value).toBe('nat');
    await fireEvent.input(screen.getByTestId('new-vm-name'), { target: { value: 'quiet' } });
    await waitFor(() => expect(screen.getByRole('option', { name: 'oklinux' })).toBeTruthy());
    await fireEvent.change(screen.getByTestId('new-vm-image'), { target: { value: 'oklinux' } });
    await fireEvent.change(net, { target: { value: 'none' } });
    await fireEvent.click(screen.getByTestId('new-vm-create'));
    await waitFor(() => expect(engine.calls.some((c) => c.op === 'vms.create')).toBe(true));
    expect(engine.calls.find((c) => c.op === 'vms.create')!.input).toMatchObject({
      name: 'quiet',
      image: 'oklinux',
      net: 'none',
    });
  });
});
