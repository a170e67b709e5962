// @vitest-environment jsdom
// The VM detail shows the VM's root: an ext4 disk with its file, size and where it came from (or that the VM
// changes the user's file), or a 9p folder with "Convert to disk" and the reason, which calls vms:toDisk.
import { describe, expect, it } from 'vitest';
import { fireEvent, screen, waitFor, within } from '@testing-library/svelte';
import type { OkLinuxApi, Vm } from '@contract';
import { browserBridge, quietApi, renderApp, useAppDom } from '../helpers/renderer';
import { sampleVm as vm } from '../helpers/sample-vm';

useAppDom();

function fakeEngine(vms: Vm[]) {
  const calls: { op: string; input: unknown }[] = [];
  const api = {
    system: {
      doctor: async () => ({ runningAsRoot: false, warnings: [] }),
      info: async () => ({ version: '1', dataDir: '/d' }),
    },
    vms: {
      list: async () => vms,
      toDisk: async (input: { name: string; sizeMiB?: number }) => {
        calls.push({ op: 'vms.toDisk', input });
        const i = vms.findIndex((v) => v.name === input.name);
        vms[i] = vm(input.name, {
          rootDisk: `/d/vms/${input.name}/root.img`,
          rootDiskSource: vms[i]!.managedRoot,
          rootDiskBytes: { size: 2 ** 30, allocated: 300 * 2 ** 20 },
        });
        return vms[i];
      },
    },
    images: { list: async () => [] },
    downloads: { list: async () => [] },
    catalog: { list: async () => ({ entries: [], warnings: [] }) },
    shares: { list: async () => [] },
    ports: { list: async () => [] },
    ...quietApi,
  } as unknown as OkLinuxApi;
  return { bridge: browserBridge(api), calls };
}

const renderVm = (name: string, engine: ReturnType<typeof fakeEngine>) => renderApp(`#/vms/${name}`, engine.bridge);

describe('VM detail: root filesystem', () => {
  it("shows a disk root's file, its size and what it was copied from", async () => {
    const engine = fakeEngine([
      vm('deb', {
        rootDisk: '/d/vms/deb/root.img',
        rootDiskSource: '/home/ana/debian.img',
        rootDiskBytes: { size: 4 * 2 ** 30, allocated: 900 * 2 ** 20 },
      }),
    ]);
    await renderVm('deb', engine);
    const panel = screen.getByTestId('rootfs');
    expect(within(panel).getByTestId('rootfs-disk').textContent).toBe('/d/vms/deb/root.img');
    expect(within(panel).getByTestId('rootfs-size').textContent).toMatch(
      /^4\.3 GB disk, 944 MB used on this computer$/,
    );
    expect(within(panel).getByTestId('rootfs-source').textContent).toContain('/home/ana/debian.img');
    expect(within(panel).queryByTestId('rootfs-convert')).toBeNull();
  });

  it("says when the VM changes the user's own file (--rw)", async () => {
    const engine = fakeEngine([vm('rw', { rootDisk: '/home/ana/debian.img', rootDiskInPlace: true })]);
    await renderVm('rw', engine);
    expect(screen.getByTestId('rootfs-in-place').textContent).toContain('the VM changes this file');
  });

  it('offers "Convert to disk" for a stopped 9p root with the reason, and sends the size asked', async () => {
    const engine = fakeEngine([vm('alp', { managedRoot: '/d/vms/alp/root', rootDir: '/d/vms/alp/root' })]);
    await renderVm('alp', engine);
    const panel = screen.getByTestId('rootfs');
    expect(within(panel).getByTestId('rootfs-dir').textContent).toBe('/d/vms/alp/root');
    expect(panel.textContent).toMatch(/faster than a 9p folder for work on many small files/);
    await fireEvent.input(within(panel).getByTestId('rootfs-size-input'), { target: { value: '2' } });
    await fireEvent.click(within(panel).getByTestId('rootfs-convert'));
    await waitFor(() => expect(engine.calls).toEqual([{ op: 'vms.toDisk', input: { name: 'alp', sizeMiB: 2048 } }]));
  });

  it('a running VM cannot be converted: the button says to stop it first', async () => {
    const engine = fakeEngine([vm('up', { state: 'running', pid: 7, rootDir: '/srv/up' })]);
    await renderVm('up', engine);
    const button = screen.getByTestId('rootfs-convert') as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    expect(button.title).toBe('Stop the VM first');
  });
});
