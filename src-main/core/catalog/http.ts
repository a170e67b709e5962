/**
 * The small HTTP layer the catalog uses for JSON listings, manifests and
 * sha256 files: undici `fetch` through an `EnvHttpProxyAgent` (HTTP_PROXY,
 * HTTPS_PROXY, NO_PROXY), a deadline, and failures turned into `OkError`s.
 */
import { EnvHttpProxyAgent, fetch, type Dispatcher, type Response } from 'undici';
import { OkError } from '@core/errors';

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

let shared: EnvHttpProxyAgent | undefined;

/** The process-wide proxy-aware dispatcher, made on first use. */
export function defaultDispatcher(): Dispatcher {
  shared ??= new EnvHttpProxyAgent();
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
    const response = await fetch(url, {
      headers: { 'user-agent': opts.userAgent ?? 'oklinux-desktop', ...headers },
      dispatcher: opts.dispatcher ?? defaultDispatcher(),
      signal,
    });
    const body = await response.text();
    return { response, body };
  } catch (e) {
    if (opts.signal?.aborted) throw new OkError('CANCELLED', `cancelled: GET ${url}`, { cause: e });
    if (deadline.aborted) {
      throw new OkError('TIMEOUT', `GET ${url} took longer than ${opts.timeoutMs ?? 30_000} ms`, {
        cause: e,
      });
    }
    throw new OkError('NETWORK', `could not reach ${url}: ${describeCause(e)}`, { cause: e });
  }
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
