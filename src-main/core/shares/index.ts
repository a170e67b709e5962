export { ROOT_TAG, MAX_TAG_BYTES, checkTagSyntax, validateTag, tagFor } from './tags';
export { validateHostDir, validateGuestPath, defaultGuestPath } from './paths';
export { QEMU_MSIZE, BLDY_MSIZE, msizeFor, mountOptions, mountParam, fstabLine, rootParams } from './mount';
export type { MountedShare } from './mount';
