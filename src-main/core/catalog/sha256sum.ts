/**
 * sha256sum-format files (`<64 hex>  <file name>`, or `<64 hex> *<file name>`
 * for binary mode), such as the `.sha256` asset of every okLinux release.
 */
import { OkError } from '@contract/errors';
import { getText, httpStatusError, type HttpOptions } from './http';

const LINE = /^([0-9a-fA-F]{64}) [ *](.+)$/;
const BARE = /^[0-9a-fA-F]{64}$/;

/**
 * The lowercase digest that `text` gives for `name`. Entries are matched on
 * their last path component, so `./dist/<name>` matches `<name>`. A file that
 * is one bare digest (no name) is accepted as the digest of `name`. `source`
 * names the file in error messages.
 */
export function parseSha256File(text: string, name: string, source: string): string {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  if (lines.length === 0) {
    throw new OkError('CHECKSUM', `${source} is empty; expected "<sha256>  ${name}"`);
  }
  if (lines.length === 1 && BARE.test(lines[0]!)) return lines[0]!.toLowerCase();

  const entries = lines.map((line, i) => {
    const m = LINE.exec(line);
    if (!m) {
      throw new OkError(
        'CHECKSUM',
        `${source} line ${i + 1} is not in sha256sum format ("<64 hex>  <file name>"): ` +
          JSON.stringify(line.slice(0, 120)),
      );
    }
    return { hex: m[1]!.toLowerCase(), file: m[2]!.split('/').pop() ?? '' };
  });
  const digests = new Set(entries.filter((e) => e.file === name).map((e) => e.hex));
  if (digests.size === 1) return [...digests][0]!;
  if (digests.size > 1) {
    throw new OkError('CHECKSUM', `${source} gives ${digests.size} different digests for ${name}`);
  }
  const listed = entries.map((e) => e.file);
  throw new OkError(
    'CHECKSUM',
    `${source} has no digest for ${name}; it lists ${listed.slice(0, 5).join(', ')}` +
      (listed.length > 5 ? ` and ${listed.length - 5} more` : ''),
  );
}

/** Download a sha256sum-format file and return the lowercase digest it gives for `name`. */
export async function fetchSha256File(url: string, name: string, opts: HttpOptions = {}): Promise<string> {
  const { response, body } = await getText(url, { accept: 'text/plain, */*' }, opts);
  if (!response.ok) throw httpStatusError(url, response, body);
  return parseSha256File(body, name, url);
}
