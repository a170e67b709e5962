/** `ports:*`: the ports a VM publishes on the host (the rules live in vm/port-changes.ts). */
import type { ServiceHandlers } from '@core/dispatch';
import type { EngineParts } from './parts';

export function portHandlers({ ports }: EngineParts): ServiceHandlers<'ports'> {
  return {
    'ports:list': ({ vm }) => ports.list(vm),
    'ports:add': ({ vm, ...spec }) => ports.add(vm, spec),
    'ports:remove': ({ vm, hostPort, protocol, hostAddr }) => {
      ports.remove(vm, hostPort, protocol, hostAddr);
      return null;
    },
  };
}
