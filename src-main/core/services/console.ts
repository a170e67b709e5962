/** `console:*`: a running VM's serial console (its output comes as `console:data` events). */
import type { ServiceHandlers } from '@core/dispatch';
import type { EngineParts } from './parts';

export function consoleHandlers({ vms }: EngineParts): ServiceHandlers<'console'> {
  return {
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
  };
}
