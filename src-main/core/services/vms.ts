/** `vms:*`: the VMs: create, launch, start, stop, remove, logs, and what a start would run. */
import type { ServiceHandlers } from '@core/dispatch';
import type { EngineParts } from './parts';

// create.ts and to-disk.ts are loaded by their calls, so `vms:list` (`oklinux ls`) loads neither
const creating = () => import('@core/vm/create');

export function vmHandlers({ ctx, vms }: EngineParts): ServiceHandlers<'vms'> {
  return {
    'vms:list': () => vms.list(),
    'vms:get': ({ name }) => {
      vms.reconcile(name);
      return vms.vm(name);
    },
    'vms:create': async (input) => (await creating()).createVm(ctx, vms, input),
    'vms:launch': async (input) => (await creating()).launchVm(ctx, vms, input),
    'vms:start': ({ name }) => vms.start(name),
    'vms:stop': ({ name, force }) => vms.stop(name, force ?? false),
    'vms:remove': async ({ name, keepRoot }) => {
      await vms.remove(name, keepRoot ?? false);
      return null;
    },
    'vms:logs': ({ name, bytes }) => vms.logs(name, bytes),
    'vms:toDisk': async ({ name, sizeMiB }) => (await import('@core/vm/to-disk')).rootToDisk(ctx, vms, name, sizeMiB),
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
