/**
 * The small HTTP layer the catalog uses for JSON listings, manifests and
 * sha256 files: undici `fetch` through a `ProxyDispatcher` of the environment (HTTP_PROXY,
 * HTTPS_PROXY, NO_PROXY) unless the caller passes its dispatcher (the engine
 * passes the Settings-aware one), a deadline, redirects followed only to
 * http(s) URLs (a `file:` Location fails at once, naming it), and failures
 * turned into `OkError`s.
 */
import type { Dispatcher, Response } from 'undici';
import { ProxyDispatcher } from '@core/download/proxy';
import { loadUndici } from '@core/download/undici';
import { redirectProblem } from '@core/download/redirect';
import { OkError } from '@contract/errors';

export interface HttpOptions {
  /** HTTP dispatcher; default a shared `EnvHttpProxyAgent`. */
  dispatcher?: Dispatcher;
  /** Cancels the request (`CANCELLED`). */
  signal?: AbortSignal;
  /** Deadline for the whole request, body included; default 30 000 ms (`TIMEOUT`). */
  timeoutMs?: number;
  /** Default `oklinux-desktop`. */
  userAgent?: string;
}

let shared: Dispatcher | undefined;

/** The process-wide proxy-aware dispatcher (the environment's proxy), made on first use. */
export function defaultDispatcher(): Dispatcher {
  shared ??= ProxyDispatcher.fromEnv(true);
  return shared;
}

/**
 * GET `url` and read the body as text. Network failures become `NETWORK`, the
 * deadline `TIMEOUT`, the caller's signal `CANCELLED`. Any status is returned:
 * the caller decides what is an error (see `httpStatusError`).
 */
export async function getText(
  url: string,
  headers: Record<string, string>,
  opts: HttpOptions = {},
): Promise<{ response: Response; body: string }> {
  const deadline = AbortSignal.timeout(opts.timeoutMs ?? 30_000);
  const signal = opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline;
  try {
    const { fetch } = await loadUndici();
    let current = url;
    let sent: Record<string, string> = { 'user-agent': opts.userAgent ?? 'oklinux-desktop', ...headers };
    for (let hops = 0; ; hops++) {
      const response = await fetch(current, {
        headers: sent,
        dispatcher: opts.dispatcher ?? defaultDispatcher(),
        signal,
        redirect: 'manual',
      });
      const location = REDIRECTS.has(response.status) ? response.headers.get('location') : null;
      if (location === null) return { response, body: await response.text() };
      await response.body?.cancel();
      const next = redirectTarget(url, current, location, hops);
      // credentials (a GitHub token) never follow a redirect to another origin, as fetch itself does
      if (new URL(next).origin !== new URL(current).origin) sent = withoutCredentials(sent);
      current = next;
    }
  } catch (e) {
    if (e instanceof OkError) throw e;
    if (opts.signal?.aborted) throw new OkError('CANCELLED', `cancelled: GET ${url}`, { cause: e });
    if (deadline.aborted) {
      throw new OkError('TIMEOUT', `GET ${url} took longer than ${opts.timeoutMs ?? 30_000} ms`, {
        cause: e,
      });
    }
    throw new OkError('NETWORK', `could not reach ${url}: ${describeCause(e)}`, { cause: e });
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;

/** The next hop of a redirect: http(s) only (a `file:` Location is refused at once), at most 10 hops. */
function redirectTarget(url: string, from: string, location: string, hops: number): string {
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    throw new OkError('HTTP', `GET ${url}: ${from} redirected to "${location}", which is not a valid URL.`);
  }
  const problem = redirectProblem(from, next);
  if (problem) throw new OkError('HTTP', `GET ${url}: ${from} ${problem}.`);
  if (hops + 1 > MAX_REDIRECTS) throw new OkError('HTTP', `GET ${url}: more than ${MAX_REDIRECTS} redirects.`);
  return next.href;
}

function withoutCredentials(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(h).filter(([k]) => !['authorization', 'cookie', 'proxy-authorization'].includes(k.toLowerCase())),
  );
}

/** `HTTP` error for a non-2xx answer, quoting the start of the body. */
export function httpStatusError(url: string, response: Response, body: string): OkError {
  const snippet = body.trim().replace(/\s+/g, ' ').slice(0, 200);
  return new OkError(
    'HTTP',
    `GET ${url} answered ${response.status} ${response.statusText}`.trimEnd() + (snippet ? `: ${snippet}` : ''),
  );
}

function describeCause(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = e.cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code ? `${cause.message} (${code})` : cause.message;
  }
  return e.message;
}
