import path from 'node:path';
import type { Handlers } from '@core/dispatch';
import type { EngineContext } from '@core/context';
import { OkError } from '@core/errors';
import type { VmManager } from '@core/vm/manager';
import {
  defaultGuestPath,
  ROOT_TAG,
  tagFor,
  validateHostDir,
  validateTag,
  fstabLine,
  mountOptions,
} from '@core/shares';
import type { ShareRow } from '@core/store';

export const DEFAULT_CPUS = 2;
export const DEFAULT_MEMORY_MIB = 1024;

type VmHandlers = Pick<
  Handlers,
  | 'vms:list'
  | 'vms:get'
  | 'vms:create'
  | 'vms:start'
  | 'vms:stop'
  | 'vms:remove'
  | 'vms:logs'
  | 'console:attach'
  | 'console:detach'
  | 'console:write'
  | 'console:resize'
  | 'shares:list'
  | 'shares:add'
  | 'shares:update'
  | 'shares:remove'
>;

const publicShare = ({ id: _id, vmId: _vmId, ...s }: ShareRow) => s;

export function vmHandlers(ctx: EngineContext, vms: VmManager): VmHandlers {
  const { store } = ctx;
  /** A share change on a running VM applies at its next start. */
  const running = (vm: string): boolean => {
    vms.reconcile(vm);
    const st = store.vms.get(vm).state;
    return st !== 'stopped' && st !== 'crashed';
  };
  /** Record a share change: a running VM (`live`, from `running`) needs a restart for it. */
  const changed = (vm: string, live: boolean): void => {
    if (live) store.vms.update(vm, { restartNeeded: true });
    ctx.bus.emit({ type: 'vm:state', vm: vms.vm(vm) });
  };

  return {
    'vms:list': () => vms.list(),
    'vms:get': ({ name }) => {
      vms.reconcile(name);
      return vms.vm(name);
    },
    'vms:create': async (input) => {
      if (input.rootDir) {
        await validateHostDir(input.rootDir, { writable: true });
        const rel = path.relative(ctx.paths.root, path.resolve(input.rootDir));
        if (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))) {
          throw new OkError(
            'INVALID_INPUT',
            `--root-dir ${input.rootDir} is inside the okLinux data directory (${ctx.paths.root}), whose folders the app manages and deletes; choose a folder outside it.`,
          );
        }
      }
      store.vms.create({
        name: input.name,
        image: input.image,
        cpus: input.cpus ?? DEFAULT_CPUS,
        memoryMiB: input.memoryMiB ?? DEFAULT_MEMORY_MIB,
        append: input.append ?? '',
        backend: input.backend ?? 'auto',
        accel: input.accel ?? 'auto',
        rootDir: input.rootDir ?? null,
      });
      store.events.append('vm.created', input.name, input);
      const vm = vms.vm(input.name);
      ctx.bus.emit({ type: 'vm:state', vm });
      return vm;
    },
    'vms:start': ({ name }) => vms.start(name),
    'vms:stop': ({ name, force }) => vms.stop(name, force ?? false),
    'vms:remove': async ({ name, keepRoot }) => {
      await vms.remove(name, keepRoot ?? false);
      return null;
    },
    'vms:logs': ({ name, bytes }) => vms.logs(name, bytes),
    'console:attach': ({ name }) => vms.attach(name),
    'console:detach': ({ name }) => {
      vms.detach(name);
      return null;
    },
    'console:write': async ({ name, data }) => {
      await vms.write(name, data);
      return null;
    },
    'console:resize': async ({ name, cols, rows }) => {
      await vms.resize(name, cols, rows);
      return null;
    },

    'shares:list': ({ vm }) => store.shares.list(vm).map(publicShare),
    'shares:add': async ({ vm, hostPath, readOnly, tag, guestPath }) => {
      store.vms.get(vm);
      await validateHostDir(hostPath, { writable: !readOnly });
      const existing = store.shares.list(vm);
      if (existing.some((s) => s.hostPath === hostPath)) {
        throw new OkError('ALREADY_EXISTS', `${hostPath} is already shared with the VM "${vm}".`);
      }
      let t: string;
      if (tag) {
        validateTag(tag);
        t = tag;
      } else {
        t = tagFor(hostPath, [ROOT_TAG, ...existing.map((s) => s.tag)]);
      }
      const live = running(vm);
      const share = store.shares.add(vm, {
        tag: t,
        hostPath,
        readOnly: readOnly ?? false,
        guestPath: guestPath ?? defaultGuestPath(t),
        pending: live,
      });
      store.events.append('share.added', vm, { tag: t, hostPath });
      changed(vm, live);
      return publicShare(share);
    },
    'shares:update': ({ vm, tag, readOnly }) => {
      const live = running(vm);
      const share = store.shares.update(vm, tag, { readOnly, pending: live || undefined });
      changed(vm, live);
      return publicShare(share);
    },
    'shares:remove': ({ vm, tag }) => {
      store.shares.remove(vm, tag);
      store.events.append('share.removed', vm, { tag });
      changed(vm, running(vm));
      return null;
    },
  };
}

/** The shares of a VM as fstab lines (`oklinux share ls --fstab`), for the backend it would use. */
export function fstabFor(ctx: EngineContext, vm: string, backend: 'qemu' | 'bldy'): string[] {
  return ctx.store.shares
    .list(vm)
    .map((s) => fstabLine({ tag: s.tag, guestPath: s.guestPath, mountOptions: mountOptions(backend, s.readOnly) }));
}
