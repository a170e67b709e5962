/** `catalog:*`: what can be installed (okLinux releases, manifest bundles) and the sources it comes from. */
import type { ServiceHandlers } from '@core/dispatch';
import type { EngineParts } from './parts';

export function catalogHandlers({ images }: EngineParts): ServiceHandlers<'catalog'> {
  return {
    'catalog:list': async ({ refresh }) => {
      const { entries, warnings } = await images.catalog(refresh ?? false);
      return { entries, warnings };
    },
    'catalog:sources': () => images.sources(),
    'catalog:add': ({ location }) => images.addSource(location),
    'catalog:remove': ({ id }) => {
      images.removeSource(id);
      return null;
    },
  };
}
