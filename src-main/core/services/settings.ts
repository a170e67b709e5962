/**
 * `settings:*`. `settings:set`: A setting that names a program okLinux runs
 * (`PROGRAM_SETTINGS`) is changed only by a local caller, and only to a file
 * that `trustedProgram` accepts; its realpath is what is stored. A browser page
 * (the `browser` caller, over `oklinux serve`'s WebSocket) cannot change one at
 * all, whatever the value: that would let any page holding the token run code
 * as this user. A refused patch changes nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PROGRAM_SETTINGS, type Settings } from '@contract';
import type { EngineContext } from '@core/context';
import type { Caller, ServiceHandlers } from '@core/dispatch';
import type { EngineParts } from './parts';
import { OkError } from '@contract/errors';
import { normalizeProxy } from '@core/download';
import { trustedProgram } from '@core/program-check';
import { checkPinned } from '@core/images/integrity';

/**
 * A program inside the data directory is run (even `--version`) only if it is the bldy okLinux installed
 * and still hashes to the digest recorded then: anything else there may have been written by a guest.
 */
async function notGuestWritable(ctx: EngineContext, real: string): Promise<void> {
  const data = fs.realpathSync(ctx.paths.root);
  const rel = path.relative(data, real);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return;
  const record = rel === path.join('bin', 'bldy') ? ctx.store.vmms.get('bldy') : undefined;
  if (!record) {
    throw new OkError(
      'INVALID_INPUT',
      `${real} lies in okLinux's data directory (${data}) and is not a bldy okLinux installed, so it was not run. ` +
        'Choose a program outside the data directory, or install bldy with "oklinux pull bldy".',
    );
  }
  await checkPinned({
    what: 'bldy',
    path: real,
    sha256: record.sha256,
    repair: 'Install it again with "oklinux pull bldy".',
  });
}

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
  // a proxy that is not an http(s) URL is refused here, not at the next download
  if (patch.proxy !== undefined) normalizeProxy(patch.proxy);
  const checked: Partial<Settings> = { ...patch };
  for (const key of programs) {
    const value = patch[key];
    if (typeof value === 'string') {
      checked[key] = await trustedProgram(value, key, {
        env: ctx.env,
        beforeRun: (real) => notGuestWritable(ctx, real),
      });
    }
  }
  return ctx.store.settings.set(checked);
}

export function settingsHandlers({ ctx }: EngineParts): ServiceHandlers<'settings'> {
  return {
    'settings:get': () => ctx.store.settings.get(),
    'settings:set': (patch, caller) => setSettings(ctx, patch, caller),
  };
}
