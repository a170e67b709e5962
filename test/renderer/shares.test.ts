// @vitest-environment jsdom
// The VM detail lists the VM's shared folders: each with what waits for the next start; Read-only and
// Remove go to the engine and the list is read again; a list the engine refuses is shown as an error.
import { describe, expect, it } from 'vitest';
import { fireEvent, screen, waitFor, within } from '@testing-library/svelte';
import type { OkLinuxApi, Share } from '@contract';
import { OkError } from '@contract/errors';
import { browserBridge, quietApi, renderApp, useAppDom } from '../helpers/renderer';
import { sampleVm } from '../helpers/sample-vm';

useAppDom();

function fakeEngine(listError?: OkError, removeError?: OkError) {
  const shares: Share[] = [
    { vm: 'dev', tag: 'src', hostPath: '/home/ana/src', guestPath: '/mnt/src', readOnly: false, pending: false },
    { vm: 'dev', tag: 'new', hostPath: '/home/ana/new', guestPath: '/mnt/new', readOnly: true, pending: true },
  ];
  let lists = 0;
  const api = {
    system: {
      doctor: async () => ({ runningAsRoot: false, warnings: [] }),
      info: async () => ({ version: '1', dataDir: '/d' }),
    },
    vms: { list: async () => [sampleVm('dev')] },
    images: { list: async () => [] },
    downloads: { list: async () => [] },
    catalog: { list: async () => ({ entries: [], warnings: [] }) },
    ports: { list: async () => [] },
    shares: {
      list: async ({ vm }: { vm: string }) => {
        lists++;
        if (listError) throw listError;
        return shares.filter((s) => s.vm === vm).map((s) => ({ ...s }));
      },
      update: async ({ tag, readOnly }: { tag: string; readOnly: boolean }) => {
        const s = shares.find((x) => x.tag === tag)!;
        s.readOnly = readOnly;
        return s;
      },
      remove: async ({ tag }: { tag: string }) => {
        if (removeError) throw removeError;
        shares.splice(
          shares.findIndex((s) => s.tag === tag),
          1,
        );
        return null;
      },
    },
    ...quietApi,
  } as unknown as OkLinuxApi;
  return { bridge: browserBridge(api), lists: () => lists };
}

const row = (tag: string) => screen.getAllByTestId('share-row').find((r) => r.dataset.tag === tag)!;

describe('VM detail: shared folders', () => {
  it('lists each share, flagging the one waiting for the next start', async () => {
    await renderApp('#/vms/dev', fakeEngine().bridge);
    await waitFor(() => expect(screen.getAllByTestId('share-row')).toHaveLength(2));
    expect(within(row('src')).queryByTestId('share-pending')).toBeNull();
    expect(within(row('new')).getByTestId('share-pending').textContent).toBe('Applies at next start');
  });

  it('Read-only and Remove go to the engine and read the list again', async () => {
    const engine = fakeEngine();
    await renderApp('#/vms/dev', engine.bridge);
    await waitFor(() => expect(screen.getAllByTestId('share-row')).toHaveLength(2));
    const before = engine.lists();
    await fireEvent.click(within(row('src')).getByTestId('share-readonly'));
    await waitFor(() => expect(engine.lists()).toBeGreaterThan(before));
    await waitFor(() =>
      expect((within(row('src')).getByTestId('share-readonly') as HTMLInputElement).checked).toBe(true),
    );
    await fireEvent.click(within(row('src')).getByTestId('share-remove'));
    await waitFor(() => expect(screen.getAllByTestId('share-row')).toHaveLength(1));
    expect(row('new')).toBeTruthy();
  });

  it('a refused Remove stays on screen after the list is read again, naming why', async () => {
    const engine = fakeEngine(
      undefined,
      new OkError('CONFLICT', 'The VM "dev" is starting; try again when it is running.'),
    );
    await renderApp('#/vms/dev', engine.bridge);
    await waitFor(() => expect(screen.getAllByTestId('share-row')).toHaveLength(2));
    const before = engine.lists();
    await fireEvent.click(within(row('src')).getByTestId('share-remove'));
    await waitFor(() => expect(engine.lists()).toBeGreaterThan(before));
    const alert = await within(screen.getByTestId('shares')).findByRole('alert');
    expect(alert.textContent).toContain('is starting; try again');
    expect(screen.getAllByTestId('share-row')).toHaveLength(2);
  });

  it('a list the engine refuses is shown, naming the problem', async () => {
    const engine = fakeEngine(new OkError('NOT_FOUND', 'The VM "dev" does not exist. See "oklinux ls".'));
    await renderApp('#/vms/dev', engine.bridge);
    const alert = await within(screen.getByTestId('shares')).findByRole('alert');
    expect(alert.textContent).toContain('The VM "dev" does not exist');
    expect(screen.queryAllByTestId('share-row')).toHaveLength(0);
  });
});
