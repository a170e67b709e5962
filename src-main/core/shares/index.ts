/**
 * This folder (core/shares/) holds the rules of host folders shared over 9p: tags, guest paths, the
 * checks on a host folder (realpath, data directory, programs okLinux runs), what a share a guest can
 * write must keep clear of (guards.ts), mount options, the set-user-ID scrub, and the rules for changing
 * a VM's shares (changes.ts). What differs between
 * backends comes from vmm/facts.ts, not from here.
 */
export { ROOT_TAG, MAX_TAG_BYTES, checkTagSyntax, validateTag, tagFor } from './tags';
export { validateHostDir, validateGuestPath, defaultGuestPath, MAX_GUEST_PATH_BYTES } from './paths';
export { validateShareLayout } from './layout';
export type { ShareLayout } from './layout';
export {
  checkShareHost,
  checkRootDir,
  recheckShareHost,
  recheckRootDir,
  homeDir,
  hostPrograms,
  guardedDirs,
  relation,
} from './host';
export type { GuardedDir, ShareHostOptions } from './host';
export {
  QEMU_MSIZE,
  BLDY_MSIZE,
  msizeFor,
  mountOptions,
  guestCanWrite,
  guestMayWrite,
  mountParam,
  fstabLine,
  rootParams,
} from './mount';
export type { MountedShare } from './mount';
export { checkTlsPlacement, guestFolders, shareGuards } from './guards';
export type { GuestFolder, ShareGuards } from './guards';
