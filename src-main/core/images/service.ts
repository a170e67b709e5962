/**
 * Images, as the engine's services see them: one object over the three parts that do the work: the
 * catalog (catalog.ts), the installer (installer.ts: pulls, progress, bldy) and the installed images
 * (installed.ts: verify, boot files, import, removal). It owns what they share: the downloader into
 * the content store and the HTTP dispatchers (the proxy from Settings, read at each request).
 *
 * This folder (core/images/) is images and installing them: the catalog with its cache, the installer
 * (pulls, progress, bldy), and the installed images (verify, boot files, import, removal). The I/O
 * itself is download/'s and extract/'s.
 */
import fs from 'node:fs';
import type { Dispatcher } from 'undici';
import type { EngineContext } from '@core/context';
import { Downloader, ProxyDispatcher } from '@core/download';
import { Catalog } from './catalog';
import { Installer } from './installer';
import { InstalledImages } from './installed';

export { toImage } from './image';

export interface ImagesOptions {
  /** Downloader tuning (tests use small stall timeouts and fast retries). */
  downloader?: Partial<ConstructorParameters<typeof Downloader>[0]>;
  /** One HTTP dispatcher for everything; default the Settings/environment proxy (see download/proxy.ts). */
  dispatcher?: Dispatcher;
  /** Built-in manifests (the bundled default), always part of the catalog. */
  builtinManifests?: string[];
}

export class Images {
  readonly downloader: Downloader;
  readonly catalogs: Catalog;
  readonly installer: Installer;
  readonly installed: InstalledImages;
  /** Dispatchers this object made (closed with it): downloads, and catalog listings. */
  private readonly owned: ProxyDispatcher[] = [];

  constructor(ctx: EngineContext, opts: ImagesOptions = {}) {
    fs.mkdirSync(ctx.paths.downloads, { recursive: true });
    // The proxy from Settings (read at each request) wins over the environment's.
    const proxied = (tunnel: boolean): Dispatcher => {
      const d = new ProxyDispatcher(() => ({ proxy: ctx.store.settings.get().proxy, env: ctx.env }), { tunnel });
      this.owned.push(d);
      return d.asDispatcher();
    };
    this.downloader = new Downloader({
      root: ctx.paths.store,
      partialDir: ctx.paths.downloads,
      state: ctx.store.downloads,
      dispatcher: opts.dispatcher ?? proxied(false),
      ...opts.downloader,
    });
    // catalog requests keep their CONNECT tunnel through an HTTP proxy, as before
    this.catalogs = new Catalog(ctx, {
      builtinManifests: opts.builtinManifests ?? [],
      dispatcher: opts.dispatcher ?? proxied(true),
    });
    this.installer = new Installer(ctx, this.downloader, this.catalogs);
    this.installed = new InstalledImages(ctx, this.downloader, this.installer, this.catalogs);
  }

  // the catalog
  sources = () => this.catalogs.sources();
  addSource = (location: string) => this.catalogs.addSource(location);
  removeSource = (id: number) => this.catalogs.removeSource(id);
  catalog = (refresh = false) => this.catalogs.catalog(refresh);
  // installing
  pull = (ref: string, opts: { signal?: AbortSignal } = {}) => this.installer.pull(ref, opts);
  downloads = () => this.installer.downloads();
  cancel = (id: string) => this.installer.cancel(id);
  installVmm = () => this.installer.installVmm();
  // installed images
  list = () => this.installed.list();
  remove = (ref: string) => this.installed.remove(ref);
  verify = () => this.installed.verify();
  import = (src: string, name?: string) => this.installed.import(src, name);
  bootImage = (ref: string, opts: { pull: boolean; signal?: AbortSignal }) => this.installed.bootImage(ref, opts);

  async close(): Promise<void> {
    await this.downloader.close();
    await Promise.all(this.owned.map((d) => d.close()));
  }
}
