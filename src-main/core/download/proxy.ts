/**
 * The proxy every download and catalog request of the engine goes through.
 *
 * Rules: the proxy set in Settings wins (a desktop user cannot set environment
 * variables); without one, `http_proxy`/`HTTP_PROXY` and `https_proxy`/
 * `HTTPS_PROXY` from the environment apply (https falls back to the http proxy,
 * as undici's EnvHttpProxyAgent did before the setting existed). `no_proxy`/
 * `NO_PROXY` (comma-separated hosts, `.suffix` or `host:port`, `*` for all)
 * bypasses whichever proxy is in force. A proxy written without a scheme
 * (`proxy.example:3128`) means `http://`.
 *
 * The configuration is read at every request, so a change in Settings applies
 * to the next request without a restart; the agent of an old configuration is
 * closed once its requests are done.
 */
import type { Dispatcher, EnvHttpProxyAgent } from 'undici';
import { OkError } from '@contract/errors';
import { undiciLoaded } from './undici';

export interface ProxyConfig {
  /** The Settings value (null or empty: none). */
  proxy: string | null;
  env: NodeJS.ProcessEnv;
}

export interface ProxyRoute {
  httpProxy: string;
  httpsProxy: string;
  noProxy: string;
}

/**
 * The Settings proxy as a URL (`http://` added when there is no scheme), or null
 * when none is set. Throws INVALID_INPUT for anything that is not an http(s) URL.
 */
export function normalizeProxy(value: string | null | undefined): string | null {
  const v = (value ?? '').trim();
  if (!v) return null;
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(v) ? v : `http://${v}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    url = new URL('invalid:');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) {
    throw new OkError(
      'INVALID_INPUT',
      `The proxy "${v}" is not an http(s) proxy URL such as http://proxy.example:3128; fix it in Settings.`,
    );
  }
  return withScheme;
}

/** Which proxies apply, from the Settings value and the environment (see the rules above). */
export function proxyRoute(cfg: ProxyConfig): ProxyRoute {
  const e = cfg.env;
  const setting = normalizeProxy(cfg.proxy);
  const httpProxy = setting ?? e.http_proxy ?? e.HTTP_PROXY ?? '';
  return {
    httpProxy,
    httpsProxy: setting ?? e.https_proxy ?? e.HTTPS_PROXY ?? httpProxy,
    noProxy: e.no_proxy ?? e.NO_PROXY ?? '',
  };
}

/**
 * An undici dispatcher that routes each request by `proxyRoute(config())`.
 * `tunnel: false` sends plain http:// requests to an HTTP proxy as absolute-URI
 * GETs (as curl does); https:// is always tunnelled with CONNECT.
 *
 * It does not extend undici's `Dispatcher` class, so that defining it does not load undici (see
 * undici.ts). undici only calls `dispatch` on a dispatcher passed as `opts.dispatcher` to `request` or
 * `fetch` (and the engine calls `close`/`destroy`), which is all this class has; `asDispatcher()` gives it
 * the `Dispatcher` type for those options. test/download/proxy.test.ts and test/catalog/proxy.test.ts
 * send requests through it.
 */
export class ProxyDispatcher {
  private current: { key: string; agent: EnvHttpProxyAgent } | null = null;
  private readonly retired = new Set<Promise<void>>();

  constructor(
    private readonly config: () => ProxyConfig,
    private readonly opts: { tunnel: boolean },
  ) {}

  /** A dispatcher over the environment's proxy only (http_proxy, https_proxy, no_proxy), as undici's type. */
  static fromEnv(tunnel: boolean): Dispatcher {
    return new ProxyDispatcher(() => ({ proxy: null, env: process.env }), { tunnel }).asDispatcher();
  }

  asDispatcher(): Dispatcher {
    return this as unknown as Dispatcher;
  }

  /** The agent for the configuration in force now. */
  private agent(): EnvHttpProxyAgent {
    const route = proxyRoute(this.config());
    const key = JSON.stringify(route);
    if (this.current?.key === key) return this.current.agent;
    const old = this.current?.agent;
    if (old) {
      // finishes the requests it carries, then closes
      const closing = old.close().catch(() => undefined);
      this.retired.add(closing);
      void closing.finally(() => this.retired.delete(closing));
    }
    // explicit values (never undefined), so undici does not read process.env behind our back
    const agent = new (undiciLoaded().EnvHttpProxyAgent)({ ...route, proxyTunnel: this.opts.tunnel });
    this.current = { key, agent };
    return agent;
  }

  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return this.agent().dispatch(options, handler);
  }

  close(): Promise<void> {
    return this.shutdown((a) => a.close());
  }

  destroy(err: Error | null = null): Promise<void> {
    return this.shutdown((agent) => agent.destroy(err));
  }

  private async shutdown(how: (a: EnvHttpProxyAgent) => Promise<void>): Promise<void> {
    const agent = this.current?.agent;
    this.current = null;
    await Promise.all([agent ? how(agent).catch(() => undefined) : undefined, ...this.retired]);
  }
}
