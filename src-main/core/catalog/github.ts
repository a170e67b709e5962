/**
 * okLinux kernel releases from the GitHub releases API.
 *
 * `GET {api}/repos/sevki/okLinux/releases?per_page=100`, following
 * `Link: rel="next"`. Every page is fetched conditionally (If-None-Match with
 * the ETag kept in an `HttpCache`), so a refresh answered 304 reuses the cached
 * page and does not count against GitHub's rate limit.
 *
 * A release is an okLinux kernel when its tag starts with `kernel-` and it has
 * an asset `oklinux-kernel-x86_64-<kernel release>-<40 hex commit>.tar.gz`
 * (which holds `arch/x86/boot/bzImage`). Other releases of the repository (for
 * example the app's own) are ignored. The `<asset>.sha256` sibling (sha256sum
 * output) is optional here: a release without it is still listed, with
 * `sha256: null`, and the catalog marks it not installable, because the kernel
 * could not be verified.
 */
import { z } from 'zod';
import { OkError } from '@contract/errors';
import { getText, httpStatusError, type HttpOptions } from './http';

export const DEFAULT_GITHUB_API = 'https://api.github.com';
export const OKLINUX_REPO = 'sevki/okLinux';
/** The one member of a release tarball that is the kernel. */
export const OKLINUX_KERNEL_MEMBER = 'arch/x86/boot/bzImage';

type MaybePromise<T> = T | Promise<T>;

/** A cached HTTP answer: its ETag and an opaque body string (store it verbatim). */
export interface HttpCacheEntry {
  etag: string;
  body: string;
}

/** Keyed by the full request URL. The app keeps it in SQLite; sync or async both work. */
export interface HttpCache {
  get(url: string): MaybePromise<HttpCacheEntry | undefined>;
  put(url: string, etag: string, body: string): MaybePromise<void>;
}

export interface OkLinuxRelease {
  tag: string;
  /** `make kernelrelease` of the build, e.g. `6.6.76-g1a2b3c4d5e6f`. */
  kernelRelease: string;
  /** Full commit of the kernel source, from the asset name. */
  commitSha: string;
  /** `YYYY-MM-DD` when the tag carries the build date (`kernel-<rel>-<YYYYMMDD>-<sha>`). */
  buildDate: string | null;
  publishedAt: string | null;
  prerelease: boolean;
  htmlUrl: string | null;
  /** The kernel tarball. */
  kernel: { name: string; url: string; size: number };
  /** Its sha256sum file, or null when the release has none (then it cannot be verified). */
  sha256: { name: string; url: string } | null;
}

export interface ListReleasesOptions extends HttpOptions {
  /** API root; default `https://api.github.com` (see `resolveGithubApi`). */
  api?: string;
  /** `owner/name`; default `sevki/okLinux`. */
  repo?: string;
  /** Bearer token; default `process.env.GITHUB_TOKEN`. Sent only to the API's origin. */
  token?: string;
  cache?: HttpCache;
  /** Pages followed at most; default 20 (2,000 releases). */
  maxPages?: number;
  /** Clock for rate-limit messages; default `Date.now`. */
  now?: () => number;
}

export interface ReleaseListing {
  /** okLinux kernel releases, newest first. */
  releases: OkLinuxRelease[];
  /** Every page was answered 304 Not Modified (the cache was current). */
  notModified: boolean;
  pages: number;
}

/** The API root: env `OKLINUX_GITHUB_API`, else `setting`, else `https://api.github.com`. */
export function resolveGithubApi(setting?: string | null, env = process.env): string {
  const fromEnv = env.OKLINUX_GITHUB_API?.trim();
  const [value, origin] = fromEnv
    ? [fromEnv, 'OKLINUX_GITHUB_API']
    : setting?.trim()
      ? [setting.trim(), 'the githubApi setting']
      : [DEFAULT_GITHUB_API, 'default'];
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new OkError('INVALID_INPUT', `${origin} is not a URL: ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new OkError('INVALID_INPUT', `${origin} must be an http(s) URL, not ${url.protocol}`);
  }
  return value.replace(/\/+$/, '');
}

/** List okLinux releases, newest first, following pagination and using the cache. */
export async function listReleases(opts: ListReleasesOptions = {}): Promise<ReleaseListing> {
  const api = (opts.api ?? DEFAULT_GITHUB_API).replace(/\/+$/, '');
  const token = opts.token ?? process.env.GITHUB_TOKEN ?? '';
  const maxPages = opts.maxPages ?? 20;
  const raw: unknown[] = [];
  let url: string | null = `${api}/repos/${opts.repo ?? OKLINUX_REPO}/releases?per_page=100`;
  let pages = 0;
  let notModified = true;
  while (url && pages < maxPages) {
    const page = await fetchPage(url, new URL(api).origin, token, opts);
    pages++;
    notModified &&= page.notModified;
    const json = parseJson(page.body, url);
    if (!Array.isArray(json)) {
      throw new OkError('HTTP', `GET ${url} did not answer a list of releases`);
    }
    raw.push(...json);
    url = nextLink(page.link, url);
  }
  return { releases: parseReleases(raw), notModified, pages };
}

const Asset = z.object({
  name: z.string(),
  size: z.number(),
  browser_download_url: z.string(),
});
const Release = z.object({
  tag_name: z.string(),
  draft: z.boolean().optional(),
  prerelease: z.boolean().optional(),
  published_at: z.string().nullable().optional(),
  html_url: z.string().optional(),
  assets: z.array(Asset),
});

const KERNEL_ASSET = /^oklinux-kernel-x86_64-(.+)-([0-9a-f]{40})\.tar\.gz$/;
const TAG_DATE = /^kernel-.+-(\d{4})(\d{2})(\d{2})-[0-9a-f]{7,40}$/;

/** Pick the okLinux kernel releases out of GitHub release objects, newest first. */
export function parseReleases(json: unknown[]): OkLinuxRelease[] {
  const out: OkLinuxRelease[] = [];
  json.forEach((item, i) => {
    const parsed = Release.safeParse(item);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new OkError(
        'HTTP',
        `GitHub release #${i} is not in the expected shape: ` +
          `${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
      );
    }
    const r = parsed.data;
    if (r.draft || !r.tag_name.startsWith('kernel-')) return;
    for (const asset of r.assets) {
      const m = KERNEL_ASSET.exec(asset.name);
      if (!m) continue;
      const sum = r.assets.find((a) => a.name === `${asset.name}.sha256`);
      const date = TAG_DATE.exec(r.tag_name);
      out.push({
        tag: r.tag_name,
        kernelRelease: m[1]!,
        commitSha: m[2]!,
        buildDate: date ? `${date[1]}-${date[2]}-${date[3]}` : null,
        publishedAt: r.published_at ?? null,
        prerelease: r.prerelease ?? false,
        htmlUrl: r.html_url ?? null,
        kernel: { name: asset.name, url: asset.browser_download_url, size: asset.size },
        sha256: sum ? { name: sum.name, url: sum.browser_download_url } : null,
      });
      return;
    }
  });
  const time = (r: OkLinuxRelease) => (r.publishedAt ? Date.parse(r.publishedAt) || 0 : 0);
  return out.sort((a, b) => time(b) - time(a));
}

interface Page {
  body: string;
  link: string | null;
  notModified: boolean;
}

/** What the cache holds for a page: the body and its Link header (a 304 may carry none). */
interface Stored {
  link: string | null;
  body: string;
}

async function fetchPage(url: string, apiOrigin: string, token: string, opts: ListReleasesOptions): Promise<Page> {
  const cached = opts.cache ? readStored(await opts.cache.get(url)) : undefined;
  const headers: Record<string, string> = {
    accept: 'application/vnd.github+json',
    'x-github-api-version': '2022-11-28',
  };
  if (token && new URL(url).origin === apiOrigin) headers.authorization = `Bearer ${token}`;
  if (cached) headers['if-none-match'] = cached.etag;

  const { response, body } = await getText(url, headers, opts);
  if (response.status === 304 && cached) {
    return { body: cached.stored.body, link: cached.stored.link, notModified: true };
  }
  const limited = rateLimitError(response.status, response.headers, url, Boolean(token), opts.now);
  if (limited) throw limited;
  if (response.status === 401 && token) {
    throw new OkError('HTTP', `GitHub rejected the token in GITHUB_TOKEN (401 from ${url}); fix or unset GITHUB_TOKEN`);
  }
  if (!response.ok) throw httpStatusError(url, response, body);

  const link = response.headers.get('link');
  const etag = response.headers.get('etag');
  if (etag && opts.cache) {
    await opts.cache.put(url, etag, JSON.stringify({ link, body } satisfies Stored));
  }
  return { body, link, notModified: false };
}

function readStored(entry: HttpCacheEntry | undefined): { etag: string; stored: Stored } | undefined {
  if (!entry) return undefined;
  try {
    const s = JSON.parse(entry.body) as Partial<Stored>;
    if (typeof s.body !== 'string') return undefined;
    return { etag: entry.etag, stored: { body: s.body, link: s.link ?? null } };
  } catch {
    return undefined; // unreadable entry: fetch afresh
  }
}

function parseJson(text: string, url: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new OkError('HTTP', `GET ${url} answered something that is not JSON`);
  }
}

/** The `rel="next"` target of a Link header, resolved against the page URL. */
function nextLink(link: string | null, base: string): string | null {
  if (!link) return null;
  for (const part of link.split(',')) {
    const m = /^<([^>]*)>(.*)$/.exec(part.trim());
    if (!m) continue;
    const rels = m[2]!
      .split(';')
      .map((p) => /^\s*rel\s*=\s*"?([^"]*)"?\s*$/i.exec(p)?.[1])
      .find((v) => v !== undefined);
    if (rels?.toLowerCase().split(/\s+/).includes('next')) return new URL(m[1]!, base).toString();
  }
  return null;
}

/**
 * `RATE_LIMITED` for a 429, or a 403 with `x-ratelimit-remaining: 0` or a
 * `retry-after` (GitHub's secondary limit); undefined for anything else.
 */
export function rateLimitError(
  status: number,
  headers: { get(name: string): string | null },
  url: string,
  hasToken: boolean,
  now: () => number = Date.now,
): OkError | undefined {
  const retryAfter = headers.get('retry-after');
  const reset = headers.get('x-ratelimit-reset');
  const exhausted = headers.get('x-ratelimit-remaining') === '0';
  if (status !== 429 && !(status === 403 && (exhausted || retryAfter !== null))) return undefined;

  const t = now();
  let at: number | undefined;
  if (retryAfter !== null && Number.isFinite(Number(retryAfter))) at = t + Number(retryAfter) * 1000;
  else if (reset !== null && Number.isFinite(Number(reset))) at = Number(reset) * 1000;
  const when =
    at === undefined
      ? 'Try again later.'
      : `Try again after ${formatLocalTime(at, t)} local time ` +
        `(in about ${Math.max(1, Math.ceil((at - t) / 60_000))} min).`;
  const hint = hasToken
    ? ' The limit applies to the token in GITHUB_TOKEN.'
    : ' Set GITHUB_TOKEN to a GitHub token to raise the limit from 60 to 5,000 requests an hour.';
  return new OkError('RATE_LIMITED', `GitHub API rate limit reached (GET ${url} answered ${status}). ${when}${hint}`);
}

/** `HH:MM:SS` in local time, with `YYYY-MM-DD ` before it when not today. */
export function formatLocalTime(ms: number, now: number = Date.now()): string {
  const d = new Date(ms);
  const n = new Date(now);
  const p = (v: number) => String(v).padStart(2, '0');
  const time = `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  const sameDay = d.getFullYear() === n.getFullYear() && d.getMonth() === n.getMonth() && d.getDate() === n.getDate();
  return sameDay ? time : `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${time}`;
}
