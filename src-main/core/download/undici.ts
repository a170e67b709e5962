/**
 * undici, loaded on first network use. Loading it costs about 120 ms of CPU (its CommonJS files and their
 * garbage), which commands that fetch nothing (`oklinux start` of a pulled image, `ls`) should not pay: on a
 * 2-core machine that time is taken from the guest's boot. Every request in the engine goes through
 * `loadUndici()` first (download/http.ts, catalog/http.ts); the dispatchers of proxy.ts make their undici
 * agents inside `dispatch`, which only undici calls, so by then `undiciLoaded()` has it.
 */
import type * as UndiciModule from 'undici';

export type Undici = typeof UndiciModule;

let loaded: Undici | undefined;
let loading: Promise<Undici> | undefined;

export function loadUndici(): Promise<Undici> {
  if (loaded) return Promise.resolve(loaded);
  loading ??= import('undici').then((m) => (loaded = m));
  return loading;
}

/** undici, once `loadUndici()` has resolved (throws if nothing loaded it: a bug, not a user error). */
export function undiciLoaded(): Undici {
  if (!loaded) throw new Error('internal error: an undici dispatcher was used before loadUndici() resolved');
  return loaded;
}
