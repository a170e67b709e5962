/** `images:*`: installed images: pull, import, verify, remove. */
import type { ServiceHandlers } from '@core/dispatch';
import type { EngineParts } from './parts';

export function imageHandlers({ images }: EngineParts): ServiceHandlers<'images'> {
  return {
    'images:list': () => images.list(),
    'images:pull': ({ ref }) => images.pull(ref),
    'images:remove': async ({ ref }) => {
      await images.remove(ref);
      return null;
    },
    'images:verify': () => images.verify(),
    'images:import': ({ path, name }) => images.import(path, name),
  };
}
