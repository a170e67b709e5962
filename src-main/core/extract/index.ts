/** Safe tar extraction: one member (a kernel) or a whole rootfs tree. */
export { extractMember, type ExtractMemberOptions } from './member';
export { extractTree, type ExtractTreeOptions, type ExtractTreeResult } from './tree';
export { normalizeMember, type MemberPath } from './paths';
