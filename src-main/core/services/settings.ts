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
import { guestFolders, relation } from '@core/shares';

function sameInode(a: string, b: string): boolean {
  try {
    const x = fs.statSync(a);
    const y = fs.statSync(b);
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

/**
 * A program outside the data directory must not be one a guest can write: not inside a VM's root
 * (--root-dir) or a share its guest can write (read-write, or any share of a VM not pinned to QEMU,
 * since bldy cannot keep one read-only), and not a hard link to some file on the data directory's disk
 * (a file in a VM's root, say) other than the installed bldy.
 */
function outsideGuestFolders(ctx: EngineContext, real: string, data: string): void {
  const refuse = (why: string): never => {
    throw new OkError(
      'INVALID_INPUT',
      `${real} ${why}, so a guest could change it; it was not run. Choose a program in a folder no VM can write.`,
    );
  };
  for (const f of guestFolders(ctx.store)) {
    const r = relation(real, f.dir);
    if (r === 'inside' || r === 'same') refuse(`lies in ${f.what} (${f.dir})`);
  }
  const st = fs.statSync(real);
  if (st.nlink > 1 && st.dev === fs.statSync(data).dev) {
    refuse(
      `has ${st.nlink - 1} other hard link(s) on the disk of okLinux's data directory, which may be files in a VM's root`,
    );
  }
}

/**
 * A program inside the data directory is run (even `--version`) only if it is the bldy okLinux installed
 * and still hashes to the digest recorded then: anything else there may have been written by a guest.
 */
async function notGuestWritable(ctx: EngineContext, real: string): Promise<void> {
  const data = fs.realpathSync(ctx.paths.root);
  const rel = path.relative(data, real);
  const installed = path.join(data, 'bin', 'bldy');
  // a hard link elsewhere to bin/bldy is bin/bldy: it is held to its record too
  const sameAsInstalled = sameInode(real, installed);
  if (!sameAsInstalled && (rel.startsWith('..') || path.isAbsolute(rel))) {
    outsideGuestFolders(ctx, real, data);
    return;
  }
  const record = sameAsInstalled || rel === path.join('bin', 'bldy') ? ctx.store.vmms.get('bldy') : undefined;
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
