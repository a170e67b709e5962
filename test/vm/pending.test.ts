/**
 * A share or port change to a running VM is pending until its next start (core/vm/pending.ts, used by
 * ShareChanges and PortChanges): recorded on SQLite on disk, with a `vm:state` event saying
 * `pendingRestart`. A stopped VM's change applies as it is. No guest boots here: the VM's state is set in
 * its row, and the lifecycle stand-in only reports it (a real boot with a pending share is in lifecycle.test.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AppEvent } from '@contract';
import { openContext } from '@core/context';
import { ShareChanges } from '@core/shares/changes';
import { toVm } from '@core/vm/manager';
import { PortChanges } from '@core/vm/port-changes';
import { tmpDir } from '../helpers/tmp';

const t = tmpDir('oklinux-pending-');
const ctx = openContext({ home: path.join(t.dir, 'home'), env: {} });
afterAll(() => {
  ctx.store.close();
  t.cleanup();
});

const vms = {
  reconcile: () => undefined,
  vm: (name: string) => {
    const row = ctx.store.vms.get(name);
    return toVm(row, row.state !== 'stopped' && row.state !== 'crashed' && row.restartNeeded, ctx.paths);
  },
};
const events: AppEvent[] = [];
ctx.bus.on((e) => events.push(e));
const lastState = () => events.filter((e) => e.type === 'vm:state').at(-1);

const make = (name: string, state: 'stopped' | 'running') => {
  ctx.store.vms.create({
    name,
    image: 'img',
    cpus: 1,
    memoryMiB: 256,
    append: '',
    backend: 'auto',
    accel: 'auto',
    net: 'nat',
    rootDir: null,
  });
  ctx.store.vms.update(name, { state });
};

describe('changes to a VM while it runs wait for its next start', () => {
  const ports = new PortChanges(ctx, vms);
  const shares = new ShareChanges(ctx, vms);

  it('a stopped VM: the port and the share apply as they are, nothing waits', async () => {
    make('idle', 'stopped');
    expect(ports.add('idle', { hostPort: 18080, guestPort: 80 }).pending).toBe(false);
    const folder = fs.mkdtempSync(path.join(t.dir, 'share-'));
    expect((await shares.add({ vm: 'idle', hostPath: folder })).pending).toBe(false);
    expect(ctx.store.vms.get('idle').restartNeeded).toBe(false);
    expect(lastState()).toMatchObject({ type: 'vm:state', vm: { name: 'idle', pendingRestart: false } });
  });

  it('a running VM: the port and the share are pending, and the VM says it needs a restart', async () => {
    make('busy', 'running');
    expect(ports.add('busy', { hostPort: 18081, guestPort: 80 }).pending).toBe(true);
    expect(ctx.store.vms.get('busy').restartNeeded).toBe(true);
    expect(lastState()).toMatchObject({ type: 'vm:state', vm: { name: 'busy', pendingRestart: true } });
    ctx.store.vms.update('busy', { restartNeeded: false });
    const folder = fs.mkdtempSync(path.join(t.dir, 'share-'));
    expect((await shares.add({ vm: 'busy', hostPath: folder, readOnly: true })).pending).toBe(true);
    expect(ctx.store.vms.get('busy').restartNeeded).toBe(true);
    // a removal on a running VM waits too
    ctx.store.vms.update('busy', { restartNeeded: false });
    ports.remove('busy', 18081);
    expect(ctx.store.vms.get('busy').restartNeeded).toBe(true);
  });
});
