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
  mountParam,
  fstabLine,
  rootParams,
} from './mount';
export type { MountedShare } from './mount';
