/** `downloads:*`: the downloads this engine process runs, and cancelling one. */
import type { ServiceHandlers } from '@core/dispatch';
import type { EngineParts } from './parts';

export function downloadHandlers({ images }: EngineParts): ServiceHandlers<'downloads'> {
  return {
    'downloads:list': () => images.downloads(),
    'downloads:cancel': async ({ id }) => {
      await images.cancel(id);
      return null;
    },
  };
}
