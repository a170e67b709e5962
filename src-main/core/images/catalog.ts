/**
 * The merged catalog: okLinux releases (GitHub) and the bundles of manifests (built in, and the sources
 * people added), cached for a few minutes; and the list of sources.
 */
import path from 'node:path';
import type { Dispatcher } from 'undici';
import type { CatalogListing, CatalogSource } from '@contract';
import { OkError, toErrorPayload } from '@contract/errors';
import type { EngineContext } from '@core/context';
import {
  buildCatalog,
  listReleases,
  loadManifest,
  resolveGithubApi,
  type HttpCache,
  type Manifest,
} from '@core/catalog';

const CATALOG_TTL_MS = 5 * 60_000;

export class Catalog {
  private cache: { at: number; listing: CatalogListing; manifests: Manifest[] } | null = null;

  constructor(
    private readonly ctx: EngineContext,
    private readonly opts: { builtinManifests: string[]; dispatcher: Dispatcher },
  ) {}

  private get store() {
    return this.ctx.store;
  }

  private githubApi(): string {
    return resolveGithubApi(this.store.settings.get().githubApi, this.ctx.env);
  }

  sources(): CatalogSource[] {
    return [
      { id: 0, kind: 'github', location: `${this.githubApi()}/repos/sevki/okLinux/releases`, addedAt: '' },
      ...this.store.sources.list().map(({ id, kind, location, addedAt }) => ({ id, kind, location, addedAt })),
    ];
  }

  async addSource(location: string): Promise<CatalogSource> {
    const loc = /^[a-z]+:\/\//i.test(location) ? location : path.resolve(location);
    const m = await loadManifest(loc, this.httpOpts());
    const row = this.store.sources.add('manifest', loc, JSON.stringify({ body: m, base: loc }));
    this.cache = null;
    this.ctx.bus.emit({ type: 'catalog:changed' });
    return { id: row.id, kind: row.kind, location: row.location, addedAt: row.addedAt };
  }

  removeSource(id: number): void {
    if (id === 0) throw new OkError('INVALID_INPUT', 'The okLinux releases source is built in and cannot be removed.');
    this.store.sources.remove(id);
    this.cache = null;
    this.ctx.bus.emit({ type: 'catalog:changed' });
  }

  /** How catalog requests go out (through the proxy, keeping their CONNECT tunnel). */
  httpOpts(): { dispatcher: Dispatcher } {
    return { dispatcher: this.opts.dispatcher };
  }

  private get httpCache(): HttpCache {
    return {
      get: (url) => {
        const hit = this.store.httpCache.get(url);
        return hit && hit.etag !== null ? { etag: hit.etag, body: hit.body } : undefined;
      },
      put: (url, etag, body) => this.store.httpCache.put(url, etag, body),
    };
  }

  /** The merged catalog, cached for a few minutes unless `refresh`. */
  async catalog(refresh = false): Promise<CatalogListing & { manifests: Manifest[] }> {
    if (!refresh && this.cache && Date.now() - this.cache.at < CATALOG_TTL_MS) {
      return { ...this.withInstalled(this.cache.listing), manifests: this.cache.manifests };
    }
    const warnings: string[] = [];
    const manifests: Manifest[] = [];
    for (const file of this.opts.builtinManifests ?? []) {
      try {
        manifests.push(await loadManifest(file));
      } catch (e) {
        warnings.push(`built-in manifest ${file}: ${toErrorPayload(e).message}`);
      }
    }
    for (const src of this.store.sources.list()) {
      try {
        if (refresh || !src.body) {
          const m = await loadManifest(src.location, this.httpOpts());
          this.store.sources.setBody(src.id, JSON.stringify({ body: m, base: src.location }));
          manifests.push(m);
        } else {
          manifests.push((JSON.parse(src.body) as { body: Manifest }).body);
        }
      } catch (e) {
        warnings.push(`${src.location}: ${toErrorPayload(e).message}`);
        if (src.body) manifests.push((JSON.parse(src.body) as { body: Manifest }).body);
      }
    }
    let releases: Awaited<ReturnType<typeof listReleases>>['releases'] = [];
    try {
      releases = (await listReleases({ api: this.githubApi(), cache: this.httpCache, ...this.httpOpts() })).releases;
    } catch (e) {
      warnings.push(`okLinux releases (${this.githubApi()}): ${toErrorPayload(e).message}`);
    }
    const built = buildCatalog({ releases, manifests });
    const listing: CatalogListing = {
      entries: built.entries.map((e) => ({ ...e, installed: false })),
      warnings: [...warnings, ...built.warnings],
    };
    this.cache = { at: Date.now(), listing, manifests };
    return { ...this.withInstalled(listing), manifests };
  }

  private withInstalled(l: CatalogListing): CatalogListing {
    return { ...l, entries: l.entries.map((e) => ({ ...e, installed: !!this.store.images.find(e.ref) })) };
  }
}
