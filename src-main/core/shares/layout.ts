/**
 * The guest side of a VM's shares, as one rule set: the same function runs when a share is
 * added or changed (CLI, IPC and WebSocket all reach the engine's shares:add / shares:update)
 * and when a VM starts (`validateVmSpec`), so a share that was accepted can always boot.
 *
 * Per share: the tag (`validateTag`) and the guest path (`validateGuestPath`). Across the VM's
 * shares: tags unique, guest paths unique, and no guest path inside another: oklinux-init mounts
 * in order with `mkdir -p`, so a nested mount point would be created inside the outer share's
 * host folder (or fail on a read-only one), or be hidden by the outer mount.
 */
import { OkError } from '@contract/errors';
import { validateGuestPath } from './paths';
import { validateTag } from './tags';

export interface ShareLayout {
  tag: string;
  guestPath: string;
}

const inside = (p: string, outer: string): boolean => p.startsWith(`${outer}/`);

/** Throws INVALID_INPUT naming the share and the fix unless `shares` can all be mounted together. */
export function validateShareLayout(shares: readonly ShareLayout[]): void {
  const tags = new Set<string>();
  for (const [i, share] of shares.entries()) {
    validateTag(share.tag);
    if (tags.has(share.tag)) {
      throw new OkError('INVALID_INPUT', `two shares use the tag "${share.tag}"; tags must be unique per VM`);
    }
    tags.add(share.tag);
    validateGuestPath(share.guestPath);
    for (const other of shares.slice(0, i)) {
      if (other.guestPath === share.guestPath) {
        throw new OkError(
          'INVALID_INPUT',
          `two shares mount at ${share.guestPath} ("${other.tag}" and "${share.tag}"); give each its own guest path`,
        );
      }
      const [outer, inner] = inside(share.guestPath, other.guestPath)
        ? [other, share]
        : inside(other.guestPath, share.guestPath)
          ? [share, other]
          : [null, null];
      if (outer && inner) {
        throw new OkError(
          'INVALID_INPUT',
          `share "${inner.tag}" would mount at ${inner.guestPath}, inside share "${outer.tag}" at ${outer.guestPath}; ` +
            'mount points cannot be nested: give them separate paths, e.g. /mnt/a and /mnt/b',
        );
      }
    }
  }
}
