// @vitest-environment jsdom
// The VM detail shows the VM's QEMU machine setting (#11 item 6): auto (microvm for a kernel with virtio-mmio,
// else pc), or the override from `oklinux create --machine microvm|pc`, with what it means in a tooltip; and the
// address the guest reported at this boot (#12), when it has one.
import { describe, expect, it } from 'vitest';
import { screen } from '@testing-library/svelte';
import type { OkLinuxApi, Vm } from '@contract';
import { browserBridge, quietApi, renderApp, useAppDom } from '../helpers/renderer';
import { sampleVm } from '../helpers/sample-vm';

useAppDom();

function bridgeFor(vms: Vm[]) {
  const api = {
    system: {
      doctor: async () => ({ runningAsRoot: false, warnings: [] }),
      info: async () => ({ version: '1', dataDir: '/d' }),
    },
    vms: { list: async () => vms },
    shares: { list: async () => [], listRemote: async () => [] },
    ports: { list: async () => [] },
    ...quietApi,
  } as unknown as OkLinuxApi;
  return browserBridge(api);
}

describe('VM detail: QEMU machine', () => {
  it.each([
    ['auto', 'machine auto', /microvm machine for a kernel with virtio-mmio/],
    ['microvm', 'microvm', /virtio-mmio devices, no PCI/],
    ['pc', 'PC machine', /virtio over PCI, for any kernel/],
  ] as const)('%s reads "%s", with its meaning in the tooltip', async (machine, label, title) => {
    await renderApp('#/vms/m', bridgeFor([sampleVm('m', { machine })]));
    const el = await screen.findByTestId('vm-machine');
    expect(el.textContent).toBe(label);
    expect(el.getAttribute('title')).toMatch(title);
  });
});

describe("VM detail: the guest's address", () => {
  it('shows the address the guest reported, and nothing before it has', async () => {
    await renderApp('#/vms/a', bridgeFor([sampleVm('a', { state: 'running', guestAddress: '10.0.2.15/24' })]));
    const el = await screen.findByTestId('vm-address');
    expect(el.textContent).toBe('10.0.2.15/24');
    expect(el.getAttribute('title')).toMatch(/reported at this boot/);
  });

  it('shows no address for a VM without one', async () => {
    await renderApp('#/vms/b', bridgeFor([sampleVm('b', { state: 'running' })]));
    await screen.findByTestId('vm-machine');
    expect(screen.queryByTestId('vm-address')).toBeNull();
  });
});
