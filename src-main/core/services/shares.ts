/** `shares:*`: host folders shared with a VM (the rules live in shares/changes.ts). */
import type { ServiceHandlers } from '@core/dispatch';
import type { EngineParts } from './parts';

export function shareHandlers({ shares }: EngineParts): ServiceHandlers<'shares'> {
  return {
    'shares:list': ({ vm }) => shares.list(vm),
    'shares:add': (input) => shares.add(input),
    'shares:addRemote': (input) => shares.addRemote(input),
    'shares:update': ({ vm, tag, readOnly }) => shares.update(vm, tag, readOnly),
    'shares:remove': ({ vm, tag }) => {
      shares.remove(vm, tag);
      return null;
    },
    'shares:fstab': ({ vm, backend }) => shares.fstab(vm, backend ?? 'qemu'),
  };
}
