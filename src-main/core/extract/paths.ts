/** Tar member path rules shared by the extractors and the manifest checks. */

export type MemberPath = { ok: true; path: string } | { ok: false; rule: string };

/**
 * Normalise a member path to `a/b/c` (no `.` or empty components; `''` is the
 * archive root), or say which rule it breaks: absolute paths and `..`
 * components are refused rather than rewritten.
 */
export function normalizeMember(p: string): MemberPath {
  if (p.startsWith('/')) return { ok: false, rule: 'absolute member paths are not allowed' };
  const parts = p.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.includes('..')) return { ok: false, rule: '".." components are not allowed' };
  return { ok: true, path: parts.join('/') };
}

/** The member path, truncated for messages. */
export function quote(p: string): string {
  return JSON.stringify(p.length > 200 ? `${p.slice(0, 200)}…` : p);
}
