/**
 * What a share a guest can write must not be, hold or lie in, besides the system and data directories
 * (host.ts): the programs the host runs (VMMs, the app), the folders of code it runs (PATH, the app's
 * own) and the folders some guest can already write (VM roots, other guest-writable shares). Used when a
 * share is added or changed (changes.ts), at every start (vm/plan.ts), and for program settings.
 */
import type { EngineContext } from '@core/context';
import { OkError } from '@contract/errors';
import { canonical, guardedDirs, hostPrograms, relation, type GuardedDir } from './host';
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

/**
 * A 9p+quic share's TLS files (realpaths) must lie where no guest can change them, as the host trusts
 * them: not in the data directory (VM roots and disks live there), a VM's root or a share a guest can
 * write. The client key must not lie in any share at all (a guest could read it and use the user's
 * certificate itself). Checked when the share is added and at each start.
 */
export function checkTlsPlacement(ctx: EngineContext, tls: { ca: string; cert?: string; key?: string }): void {
  const data = canonical(ctx.paths.root);
  // each folder's realpath taken once, not once per TLS file
  const resolved = (g: GuestFolder) => ({ ...g, real: canonical(g.dir) });
  const writable = guestFolders(ctx.store).map(resolved);
  const readable: (typeof writable)[number][] = [];
  // (only the key must stay out of read-only shares too)
  if (tls.key)
    for (const vm of ctx.store.vms.list())
      for (const sh of ctx.store.shares.list(vm.name))
        readable.push(resolved({ dir: sh.hostPath, what: `the share "${sh.tag}" of the VM "${vm.name}"` }));
  const files: [string | undefined, string, string, typeof writable][] = [
    [tls.ca, 'CA file', '--ca', writable],
    [tls.cert, 'client certificate', '--cert', writable],
    [tls.key, 'client key', '--key', [...writable, ...readable]],
  ];
  for (const [file, what, flag, folders] of files) {
    if (!file) continue;
    const real = canonical(file);
    const where =
      relation(real, data) === 'inside'
        ? `the data directory (${ctx.paths.root}), where VM roots and disks live`
        : folders.map((g) => (relation(real, g.real) === 'inside' ? `${g.what} (${g.dir})` : null)).find(Boolean);
    if (where)
      throw new OkError(
        'INVALID_INPUT',
        `${what} ${file} (${flag}) lies inside ${where}, which a guest can ${flag === '--key' ? 'read or write' : 'write'}: ` +
          `move it to a folder no VM shares (e.g. ~/.config/oklinux-tls, mode 700), then remove the share and add it again`,
      );
  }
}
