import { DataPaths, defaultDataDir } from '@core/paths';
import { Store } from '@core/store';
import { EventBus } from '@core/events';
import { diskFullError, prepareDataDir } from '@core/datadir';

/** What every service of the engine shares: where data lives, the state, the event stream. */
export interface EngineContext {
  paths: DataPaths;
  store: Store;
  bus: EventBus;
  env: NodeJS.ProcessEnv;
  /**
   * Things people should hear once, found while opening (e.g. the data directory's permissions
   * were tightened). The CLI prints them to stderr; doctor reports them to the UI.
   */
  notices: string[];
}

export function openContext(opts: { home?: string; env?: NodeJS.ProcessEnv } = {}): EngineContext {
  const env = opts.env ?? process.env;
  const paths = new DataPaths(opts.home ?? defaultDataDir(env));
  const notices = prepareDataDir(paths);
  let store: Store;
  try {
    store = new Store(paths.db);
  } catch (e) {
    throw diskFullError(e, paths.root) ?? e;
  }
  try {
    for (const n of notices) store.events.append('datadir.tightened', paths.root, { notice: n });
  } catch {
    // only a record: the notice itself is still shown
  }
  return { paths, store, bus: new EventBus(), env, notices };
}
