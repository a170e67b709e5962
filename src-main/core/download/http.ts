import type { Dispatcher } from 'undici';
import { loadUndici } from './undici';
import { redirectProblem } from './redirect';
import { OkError } from '@contract/errors';

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export interface OpenOptions {
  dispatcher: Dispatcher;
  headers: Record<string, string>;
  signal: AbortSignal;
  maxRedirects: number;
}

export interface OpenedResponse {
  /** The URL that answered after redirects. */
  url: string;
  statusCode: number;
  headers: Dispatcher.ResponseData['headers'];
  body: Dispatcher.ResponseData['body'];
}

export function header(headers: OpenedResponse['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Where a redirect leads. Only http(s) targets are followed: a `file:` (or any
 * other scheme) Location is refused at once as an HTTP error, never retried.
 */
function redirectTarget(location: string, from: string, original: string): string {
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    throw new OkError(
      'HTTP',
      `${from} redirected to "${location}", which is not a valid URL (downloading ${original}).`,
    );
  }
  const problem = redirectProblem(from, next);
  if (problem) {
    throw new OkError(
      'HTTP',
      `${from} ${problem}, so the download of ${original} was refused. Check the catalog's URL or the server.`,
    );
  }
  return next.href;
}

/** GET `url`, following http(s) redirects (hops capped, loops refused, other schemes refused). */
export async function openFollowingRedirects(url: string, opts: OpenOptions): Promise<OpenedResponse> {
  const { request } = await loadUndici();
  const chain = [url];
  let current = url;
  for (;;) {
    const res = await request(current, {
      method: 'GET',
      headers: opts.headers,
      dispatcher: opts.dispatcher,
      signal: opts.signal,
    });
    const location = header(res.headers, 'location');
    if (!REDIRECTS.has(res.statusCode) || location === undefined) {
      return { url: current, statusCode: res.statusCode, headers: res.headers, body: res.body };
    }
    await res.body.dump();
    const next = redirectTarget(location, current, url);
    if (chain.includes(next)) {
      throw new OkError('HTTP', `Redirect loop while downloading ${url}: ${[...chain, next].join(' -> ')}.`);
    }
    chain.push(next);
    if (chain.length - 1 > opts.maxRedirects) {
      throw new OkError(
        'HTTP',
        `Too many redirects (more than ${opts.maxRedirects}) while downloading ${url}; last hop was ${next}.`,
      );
    }
    current = next;
  }
}
