/**
 * Safe tar extraction: one member (a kernel) or a whole rootfs tree.
 *
 * This folder (core/extract/) extracts tar archives safely (no links out, no absolute or `..` paths). It
 * takes paths and gives files; it never touches the database.
 */
export { extractMember, type ExtractMemberOptions } from './member';
export { extractTree, type ExtractTreeOptions, type ExtractTreeResult } from './tree';
export { normalizeMember, type MemberPath } from './paths';
