import fs from 'node:fs';
import { DataPaths, defaultDataDir } from '@core/paths';
import { Store } from '@core/store';
import { EventBus } from '@core/events';
import { OkError } from '@core/errors';

/** What every service of the engine shares: where data lives, the state, the event stream. */
export interface EngineContext {
  paths: DataPaths;
  store: Store;
  bus: EventBus;
  env: NodeJS.ProcessEnv;
}

export function openContext(opts: { home?: string; env?: NodeJS.ProcessEnv } = {}): EngineContext {
  const env = opts.env ?? process.env;
  const paths = new DataPaths(opts.home ?? defaultDataDir(env));
  try {
    fs.mkdirSync(paths.root, { recursive: true });
  } catch (e) {
    throw new OkError(
      'DATA_DIR',
      `The data directory ${paths.root} cannot be created (${(e as NodeJS.ErrnoException).code ?? String(e)}). ` +
        'Choose another with OKLINUX_HOME.',
      { cause: e },
    );
  }
  const store = new Store(paths.db);
  return { paths, store, bus: new EventBus(), env };
}
