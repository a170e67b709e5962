import type { Handlers } from '@core/dispatch';
import type { EngineContext } from '@core/context';
import { OkError } from '@contract/errors';
import type { VmManager } from '@core/vm/manager';
import {
  checkRootDir,
  checkShareHost,
  recheckShareHost,
  defaultGuestPath,
  fstabLine,
  homeDir,
  hostPrograms,
  mountOptions,
  mountParam,
  ROOT_TAG,
  rootParams,
  tagFor,
  validateShareLayout,
} from '@core/shares';
import { GUEST_INIT_PATH } from '@core/vm/root';
import { MAX_CMDLINE_BYTES } from '@core/vmm/spec';
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
  | 'vms:plan'
  | 'console:attach'
  | 'console:detach'
  | 'console:write'
  | 'console:resize'
  | 'shares:list'
  | 'shares:add'
  | 'shares:update'
  | 'shares:remove'
  | 'shares:fstab'
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
  /** Programs the app runs (VMMs, itself): a writable share must not hold them. */
  const vmmPrograms = () => hostPrograms(store.settings.get().bldyPath, ctx.env.PATH);
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
      // the realpath is stored, after the checks ran on it (see shares/host.ts)
      const rootDir = input.rootDir
        ? await checkRootDir(input.rootDir, { dataDir: ctx.paths.root, home: homeDir(ctx.env) })
        : null;
      store.vms.create({
        name: input.name,
        image: input.image,
        cpus: input.cpus ?? DEFAULT_CPUS,
        memoryMiB: input.memoryMiB ?? DEFAULT_MEMORY_MIB,
        append: input.append ?? '',
        backend: input.backend ?? 'auto',
        accel: input.accel ?? 'auto',
        rootDir,
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
    'vms:plan': async ({ name, backend }) => {
      const { bin, args } = await vms.plan(store.vms.get(name), {
        pull: false,
        prepare: false,
        ...(backend ? { backend } : {}),
      });
      return { bin, args };
    },
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
      const real = await checkShareHost(hostPath, {
        writable: !readOnly,
        dataDir: ctx.paths.root,
        programs: vmmPrograms(),
      });
      const live = running(vm);
      // the layout check and the insert are one transaction, so racing adds cannot both pass
      const share = store.tx(() => {
        const existing = store.shares.list(vm);
        const same = existing.find((s) => s.hostPath === real);
        if (same) {
          throw new OkError('ALREADY_EXISTS', `${real} is already shared with the VM "${vm}" (tag "${same.tag}").`);
        }
        const t = tag ?? tagFor(real, [ROOT_TAG, ...existing.map((s) => s.tag)]);
        const gp = guestPath ?? defaultGuestPath(t);
        const taken = existing.find((s) => s.tag === t) ?? existing.find((s) => s.guestPath === gp);
        if (taken) {
          throw new OkError(
            'ALREADY_EXISTS',
            taken.tag === t
              ? `The VM "${vm}" already has a share tagged "${t}" (${taken.hostPath}). Pick another tag with --tag.`
              : `The share "${taken.tag}" (${taken.hostPath}) already mounts at ${gp} in the VM "${vm}". Pick another guest path with --guest-path.`,
          );
        }
        const next = {
          tag: t,
          hostPath: real,
          readOnly: readOnly ?? false,
          guestPath: gp,
        };
        checkShareSet(ctx, vm, [...existing, next]);
        return store.shares.add(vm, { ...next, pending: live });
      });
      store.events.append('share.added', vm, { tag: share.tag, hostPath: real });
      changed(vm, live);
      return publicShare(share);
    },
    'shares:update': async ({ vm, tag, readOnly }) => {
      const current = store.shares.get(vm, tag);
      // a share made writable must be writable, and must still be a folder it may be
      await recheckShareHost(current.hostPath, {
        writable: !readOnly,
        dataDir: ctx.paths.root,
        programs: vmmPrograms(),
      });
      checkShareSet(
        ctx,
        vm,
        store.shares.list(vm).map((s) => (s.tag === tag ? { ...s, readOnly } : s)),
      );
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
    'shares:fstab': ({ vm, backend }) => fstabFor(ctx, vm, backend ?? 'qemu'),
  };
}

/**
 * The guest side of a VM's shares (`validateShareLayout`: tags, guest paths, uniqueness, no
 * nesting), and whether their kernel parameters still fit the kernel's command line next to the
 * VM's own (its image's, when installed, and --append): what `start` would otherwise refuse.
 */
function checkShareSet(
  ctx: EngineContext,
  vm: string,
  shares: { tag: string; guestPath: string; readOnly: boolean }[],
): void {
  validateShareLayout(shares);
  const row = ctx.store.vms.get(vm);
  const fixed = [
    ctx.store.images.find(row.image)?.cmdline ?? '',
    'console=ttyS0 panic=-1',
    `oklinux.hostname=${vm}`,
    `init=${GUEST_INIT_PATH}`,
    rootParams('qemu'),
    row.append,
  ];
  // QEMU's msize has the most digits: the longest form either backend would pass
  const params = shares.map((s) => mountParam({ ...s, mountOptions: mountOptions('qemu', s.readOnly) }));
  const bytes = Buffer.byteLength([...fixed, ...params].filter(Boolean).join(' '));
  if (bytes > MAX_CMDLINE_BYTES) {
    throw new OkError(
      'INVALID_INPUT',
      `with this share the VM "${vm}" would need a kernel command line of ${bytes} bytes, over the kernel's ` +
        `${MAX_CMDLINE_BYTES}; use shorter tags and guest paths, or fewer shares`,
    );
  }
}

/** The shares of a VM as fstab lines (`oklinux share ls --fstab`), for the backend it would use. */
export function fstabFor(ctx: EngineContext, vm: string, backend: 'qemu' | 'bldy'): string[] {
  return ctx.store.shares
    .list(vm)
    .map((s) => fstabLine({ tag: s.tag, guestPath: s.guestPath, mountOptions: mountOptions(backend, s.readOnly) }));
}
