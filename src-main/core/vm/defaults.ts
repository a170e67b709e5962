/** What `oklinux run` and "Launch okLinux" use when no VM or bundle is named (a leaf: no imports). */
export const DEFAULT_IMAGE = 'oklinux';
export const DEFAULT_VM = 'oklinux';
