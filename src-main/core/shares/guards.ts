/**
 * What a share a guest can write must not be, hold or lie in, besides the system and data directories
 * (host.ts): the programs the host runs (VMMs, the app), the folders of code it runs (PATH, the app's
 * own) and the folders some guest can already write (VM roots, other guest-writable shares). Used when a
 * share is added or changed (changes.ts), at every start (vm/plan.ts), and for program settings.
 */
import type { EngineContext } from '@core/context';
import { guardedDirs, hostPrograms, type GuardedDir } from './host';
import { guestMayWrite } from './mount';

/** A folder a guest can write, and what it is (for messages). */
export interface GuestFolder {
  dir: string;
  what: string;
}

export interface ShareGuards {
  programs: string[];
  guarded: GuardedDir[];
  guestFolders: GuestFolder[];
}

/**
 * Every folder some guest can write, but the share `self` itself: each VM's root, and each share its
 * guest can write (read-write, or any share of a VM not pinned to QEMU: bldy cannot keep one read-only).
 */
export function guestFolders(store: EngineContext['store'], self?: { vm: string; tag?: string }): GuestFolder[] {
  const out: GuestFolder[] = [];
  for (const vm of store.vms.list()) {
    if (vm.rootDir) out.push({ dir: vm.rootDir, what: `the root of the VM "${vm.name}"` });
    for (const sh of store.shares.list(vm.name)) {
      if (self && vm.name === self.vm && sh.tag === self.tag) continue;
      if (guestMayWrite(vm.backend, sh.readOnly)) {
        out.push({ dir: sh.hostPath, what: `the share "${sh.tag}" of the VM "${vm.name}"` });
      }
    }
  }
  return out;
}

/**
 * The guards for the share `self` (its tag unless it is being added): `extra` programs (e.g. the VMM
 * about to start) besides those found on PATH, and `appDirs`, the folders of the app's own code.
 */
export function shareGuards(
  ctx: EngineContext,
  appDirs: string[],
  self: { vm: string; tag?: string },
  extra: string[] = [],
): ShareGuards {
  return {
    programs: [...hostPrograms(ctx.store.settings.get().bldyPath, ctx.env.PATH), ...extra],
    guarded: guardedDirs(ctx.env.PATH, appDirs),
    guestFolders: guestFolders(ctx.store, self),
  };
}
