/**
 * The one polling loop: check `cond` every `every` ms until it holds (true) or `within` ms have passed
 * (false). A throw from `cond` ends the wait with that error; an aborted `signal` ends it with false.
 */
export async function waitUntil(
  cond: () => boolean | Promise<boolean>,
  opts: { every: number; within: number; signal?: AbortSignal },
): Promise<boolean> {
  const end = Date.now() + opts.within;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() >= end || opts.signal?.aborted) return false;
    await new Promise((r) => setTimeout(r, opts.every));
  }
}
