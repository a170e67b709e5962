/**
 * `settings:set`. A setting that names a program okLinux runs
 * (`PROGRAM_SETTINGS`) is changed only by a local caller, and only to a file
 * that `trustedProgram` accepts; its realpath is what is stored. A browser page
 * (the `browser` caller, over `oklinux serve`'s WebSocket) cannot change one at
 * all, whatever the value: that would let any page holding the token run code
 * as this user. A refused patch changes nothing.
 */
import { PROGRAM_SETTINGS, type Settings } from '@contract';
import type { EngineContext } from '@core/context';
import type { Caller } from '@core/dispatch';
import { OkError } from '@core/errors';
import { trustedProgram } from '@core/program-check';

export async function setSettings(ctx: EngineContext, patch: Partial<Settings>, caller: Caller): Promise<Settings> {
  const programs = PROGRAM_SETTINGS.filter((k) => patch[k] !== undefined);
  if (caller === 'browser' && programs.length > 0) {
    const names = programs.join(', ');
    throw new OkError(
      'INVALID_INPUT',
      `${names} names a program okLinux runs, so it cannot be changed from a browser page. Set it in a terminal ` +
        `with "oklinux config set ${programs[0]} PATH", or in the okLinux desktop app's Settings. Nothing was changed.`,
    );
  }
  const checked: Partial<Settings> = { ...patch };
  for (const key of programs) {
    const value = patch[key];
    if (typeof value === 'string') checked[key] = await trustedProgram(value, key, { env: ctx.env });
  }
  return ctx.store.settings.set(checked);
}
