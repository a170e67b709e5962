/** `vmm:*`: installing a VMM (bldy) from the catalog. */
import type { ServiceHandlers } from '@core/dispatch';
import type { EngineParts } from './parts';

export function vmmHandlers({ images }: EngineParts): ServiceHandlers<'vmm'> {
  return { 'vmm:install': async () => ({ path: await images.installVmm() }) };
}
