/** `vms:*`: the VMs: create, launch, start, stop, remove, logs, and what a start would run. */
import type { ServiceHandlers } from '@core/dispatch';
import { createVm, launchVm } from '@core/vm/create';
import { rootToDisk } from '@core/vm/to-disk';
import type { EngineParts } from './parts';

export function vmHandlers({ ctx, vms }: EngineParts): ServiceHandlers<'vms'> {
  return {
    'vms:list': () => vms.list(),
    'vms:get': ({ name }) => {
      vms.reconcile(name);
      return vms.vm(name);
    },
    'vms:create': (input) => createVm(ctx, vms, input),
    'vms:launch': (input) => launchVm(ctx, vms, input),
    'vms:start': ({ name }) => vms.start(name),
    'vms:stop': ({ name, force }) => vms.stop(name, force ?? false),
    'vms:remove': async ({ name, keepRoot }) => {
      await vms.remove(name, keepRoot ?? false);
      return null;
    },
    'vms:logs': ({ name, bytes }) => vms.logs(name, bytes),
    'vms:toDisk': ({ name, sizeMiB }) => rootToDisk(ctx, vms, name, sizeMiB),
    'vms:plan': async ({ name, backend }) => {
      const { bin, args } = await vms.plan(ctx.store.vms.get(name), {
        pull: false,
        prepare: false,
        ...(backend ? { backend } : {}),
      });
      return { bin, args };
    },
  };
}
