// @vitest-environment jsdom
// Dropping folders onto a VM shares them (paths from the preload's pathForFile); files are refused.
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { createRawSnippet } from 'svelte';
import type { OkLinuxApi, Share } from '@contract';
import { OkError } from '@contract/errors';
import { bridgeContext, type Bridge } from '@renderer/lib/bridge';
import DropZone from '@renderer/components/DropZone.svelte';
import SharePicker from '@renderer/components/SharePicker.svelte';

afterEach(() => cleanup());

/** An engine stand-in that records shares:add and refuses one path. */
function fakeBridge(kind: 'electron' | 'browser', paths = new Map<File, string>()) {
  const added: { vm: string; hostPath: string; readOnly?: boolean | undefined }[] = [];
  const shares = {
    add: async (input: { vm: string; hostPath: string; readOnly?: boolean }): Promise<Share> => {
      added.push(input);
      if (input.hostPath === '/srv/locked') {
        throw new OkError('INVALID_INPUT', '/srv/locked is not readable by you; check its permissions.');
      }
      const tag = input.hostPath.split('/').pop()!;
      return { vm: input.vm, tag, hostPath: input.hostPath, readOnly: false, guestPath: `/mnt/${tag}`, pending: false };
    },
  };
  const bridge: Bridge = {
    api: { shares } as unknown as OkLinuxApi,
    kind,
    pathForFile: kind === 'electron' ? (f) => paths.get(f) ?? '' : null,
    pickFolders: null,
    connection: { state: () => ({ status: 'open' }), onState: () => () => undefined, reconnectNow: () => undefined },
    tokenMissing: false,
  };
  return { bridge, added };
}

/** A drop's DataTransfer as Chromium gives it: items whose entries say whether they are directories. */
function dataTransfer(items: { file: File; dir: boolean }[]) {
  return {
    types: ['Files'],
    dropEffect: 'none',
    items: items.map(({ file, dir }) => ({
      kind: 'file',
      type: '',
      getAsFile: () => file,
      webkitGetAsEntry: () => ({ name: file.name, isDirectory: dir, isFile: !dir }),
    })),
    files: items.map((i) => i.file),
  };
}

const card = createRawSnippet(() => ({ render: () => '<p>VM card</p>' }));

function renderZone(bridge: Bridge) {
  return render(DropZone, { props: { vm: 'dev', children: card }, context: bridgeContext(bridge) });
}

describe('drop zone', () => {
  it('shares every dropped folder, by the path pathForFile gives', async () => {
    const projects = new File([], 'projects');
    const photos = new File([], 'photos');
    const { bridge, added } = fakeBridge(
      'electron',
      new Map([
        [projects, '/home/ana/projects'],
        [photos, '/home/ana/photos'],
      ]),
    );
    renderZone(bridge);
    const zone = screen.getByTestId('drop-zone');
    const dt = dataTransfer([
      { file: projects, dir: true },
      { file: photos, dir: true },
    ]);

    await fireEvent.dragEnter(zone, { dataTransfer: dt });
    expect(zone.dataset.active).toBe('true');
    expect(zone.classList.contains('active')).toBe(true);
    await fireEvent.drop(zone, { dataTransfer: dt });
    expect(zone.dataset.active).toBe('false');

    await waitFor(() => expect(screen.getByTestId('drop-message').textContent).toContain('Shared'));
    expect(added).toEqual([
      { vm: 'dev', hostPath: '/home/ana/projects', readOnly: false },
      { vm: 'dev', hostPath: '/home/ana/photos', readOnly: false },
    ]);
    const msg = screen.getByRole('status');
    expect(msg.textContent).toContain('/home/ana/projects → /mnt/projects');
    expect(msg.textContent).toContain('/home/ana/photos → /mnt/photos');
  });

  it('refuses files with a message, and still shares the folders dropped with them', async () => {
    const notes = new File(['hello'], 'notes.txt');
    const src = new File([], 'src');
    const { bridge, added } = fakeBridge('electron', new Map([[src, '/home/ana/src']]));
    renderZone(bridge);
    const zone = screen.getByTestId('drop-zone');

    await fireEvent.drop(zone, {
      dataTransfer: dataTransfer([
        { file: notes, dir: false },
        { file: src, dir: true },
      ]),
    });
    await waitFor(() => expect(screen.getByRole('alert').textContent).toContain('"notes.txt" is not a folder'));
    expect(screen.getByRole('alert').textContent).toContain('Shared /home/ana/src → /mnt/src');
    expect(added.map((a) => a.hostPath)).toEqual(['/home/ana/src']);
  });

  it('refuses a drop of files only, without calling the engine', async () => {
    const a = new File(['x'], 'a.iso');
    const b = new File(['y'], 'b.img');
    const { bridge, added } = fakeBridge('electron', new Map([[a, '/tmp/a.iso']]));
    renderZone(bridge);
    await fireEvent.drop(screen.getByTestId('drop-zone'), {
      dataTransfer: dataTransfer([
        { file: a, dir: false },
        { file: b, dir: false },
      ]),
    });
    expect(screen.getByRole('alert').querySelector('.text')?.textContent).toBe(
      '"a.iso", "b.img" are not folders: only folders can be shared.',
    );
    expect(added).toEqual([]);
  });

  it('shows the engine error for a folder it will not share', async () => {
    const locked = new File([], 'locked');
    const { bridge } = fakeBridge('electron', new Map([[locked, '/srv/locked']]));
    renderZone(bridge);
    await fireEvent.drop(screen.getByTestId('drop-zone'), {
      dataTransfer: dataTransfer([{ file: locked, dir: true }]),
    });
    await waitFor(() =>
      expect(screen.getByRole('alert').textContent).toContain(
        'Could not share /srv/locked: /srv/locked is not readable by you',
      ),
    );
  });

  it('in a browser, which cannot see host paths, says to type the path instead', async () => {
    const { bridge, added } = fakeBridge('browser');
    renderZone(bridge);
    await fireEvent.drop(screen.getByTestId('drop-zone'), {
      dataTransfer: dataTransfer([{ file: new File([], 'projects'), dir: true }]),
    });
    expect(screen.getByRole('alert').textContent).toContain('type its path or use Browse');
    expect(added).toEqual([]);
  });

  it('ignores drags that carry no files (text, links)', async () => {
    const { bridge } = fakeBridge('electron');
    renderZone(bridge);
    const zone = screen.getByTestId('drop-zone');
    await fireEvent.dragEnter(zone, { dataTransfer: { types: ['text/plain'], items: [] } });
    expect(zone.dataset.active).toBe('false');
  });
});

describe('share picker', () => {
  it('shares a typed path, read-only when asked', async () => {
    const { bridge, added } = fakeBridge('browser');
    render(SharePicker, { props: { vm: 'dev' }, context: bridgeContext(bridge) });
    const input = screen.getByLabelText('Share a folder') as HTMLInputElement;
    await fireEvent.input(input, { target: { value: '/home/ana/data' } });
    await fireEvent.click(screen.getByLabelText('Read-only'));
    await fireEvent.click(screen.getByTestId('share-add'));
    await waitFor(() => expect(screen.getByTestId('share-message').textContent).toContain('Shared /home/ana/data'));
    expect(added).toEqual([{ vm: 'dev', hostPath: '/home/ana/data', readOnly: true }]);
    expect(input.value).toBe('');
  });
});
