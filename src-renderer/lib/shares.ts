/** Adding several folders as shares at once, and saying how it went. */
import type { OkLinuxApi, Share } from '@contract';
import { errorMessage } from './bridge';

export interface AddSharesResult {
  added: Share[];
  failed: { path: string; message: string }[];
}

export interface Notice {
  kind: 'ok' | 'error';
  text: string;
}

/** Share each folder with the VM, one after the other; one failure does not stop the rest. */
export async function addShares(
  api: OkLinuxApi,
  vm: string,
  paths: string[],
  readOnly = false,
): Promise<AddSharesResult> {
  const out: AddSharesResult = { added: [], failed: [] };
  for (const hostPath of paths) {
    try {
      out.added.push(await api.shares.add({ vm, hostPath, readOnly }));
    } catch (e) {
      out.failed.push({ path: hostPath, message: errorMessage(e) });
    }
  }
  return out;
}

/** One notice for the outcome, with anything refused before trying (`extra`) appended. */
export function sharesNotice(r: AddSharesResult, extra: string | null = null): Notice {
  const parts: string[] = [];
  if (r.added.length) {
    const list = r.added.map((s) => `${s.hostPath} → ${s.guestPath}`).join(', ');
    const pending = r.added.filter((s) => s.pending).length;
    const later = pending
      ? ` ${pending === 1 && r.added.length === 1 ? 'It applies' : 'They apply'} at the next start.`
      : '';
    parts.push(`Shared ${list}.${later}`);
  }
  for (const f of r.failed) parts.push(`Could not share ${f.path}: ${f.message}`);
  if (extra) parts.push(extra);
  return { kind: r.failed.length || extra ? 'error' : 'ok', text: parts.join(' ') };
}
