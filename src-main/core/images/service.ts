/**
 * Images: the merged catalog (okLinux releases + manifests), pulling with
 * verified, resumable downloads into the content store, local import, removal,
 * verification, and the boot files a VM needs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Dispatcher } from 'undici';
import type { CatalogListing, CatalogSource, DownloadProgress, Image, VerifyResult } from '@contract';
import type { EngineContext } from '@core/context';
import { OkError, toErrorPayload } from '@contract/errors';
import {
  artifactFileName,
  buildCatalog,
  fetchSha256File,
  listReleases,
  loadManifest,
  resolveGithubApi,
  resolveRef,
  type CatalogArtifact,
  type CatalogEntry,
  type HttpCache,
  type Manifest,
  type ManifestVmm,
} from '@core/catalog';
import { Downloader, ProxyDispatcher, sha256File } from '@core/download';
import { extractMember } from '@core/extract';
import type { ImageRow } from '@core/store';
import type { BootImage } from '@core/vm/manager';
import { diskFullError } from '@core/datadir';
import { checkPinned, type PinnedFile } from './integrity';
import { installBldy } from './bldy-install';

/** A kernel found in a tarball we import or pull: okLinux's layout. */
export const KERNEL_MEMBER = 'arch/x86/boot/bzImage';
const CATALOG_TTL_MS = 5 * 60_000;

type Role = 'kernel' | 'initrd' | 'rootfs';

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
  private cache: { at: number; listing: CatalogListing; manifests: Manifest[] } | null = null;
  private readonly active = new Map<string, DownloadProgress>();
  /** Dispatchers this object made (closed with it): downloads, and catalog listings. */
  private readonly owned: ProxyDispatcher[] = [];
  private readonly catalogDispatcher: Dispatcher;

  constructor(
    private readonly ctx: EngineContext,
    private readonly opts: ImagesOptions = {},
  ) {
    fs.mkdirSync(ctx.paths.downloads, { recursive: true });
    // The proxy from Settings (read at each request) wins over the environment's.
    const proxied = (tunnel: boolean): ProxyDispatcher => {
      const d = new ProxyDispatcher(() => ({ proxy: ctx.store.settings.get().proxy, env: ctx.env }), { tunnel });
      this.owned.push(d);
      return d;
    };
    this.downloader = new Downloader({
      root: ctx.paths.store,
      partialDir: ctx.paths.downloads,
      state: ctx.store.downloads,
      dispatcher: opts.dispatcher ?? proxied(false),
      ...opts.downloader,
    });
    // catalog requests keep their CONNECT tunnel through an HTTP proxy, as before
    this.catalogDispatcher = opts.dispatcher ?? proxied(true);
  }

  private get store() {
    return this.ctx.store;
  }

  private githubApi(): string {
    return resolveGithubApi(this.store.settings.get().githubApi, this.ctx.env);
  }

  // ------------------------------------------------------------------ catalog

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

  private httpOpts(): { dispatcher: Dispatcher } {
    return { dispatcher: this.catalogDispatcher };
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

  // ------------------------------------------------------------------ pulling

  /** Install `ref` (a release tag, `latest`, or a bundle name): download, verify, extract, record. */
  async pull(ref: string, opts: { signal?: AbortSignal } = {}): Promise<Image> {
    const { entries, warnings } = await this.catalog();
    let entry: CatalogEntry;
    try {
      entry = resolveRef(entries as CatalogEntry[], ref) as CatalogEntry;
    } catch (e) {
      if (warnings.length && e instanceof OkError && e.code === 'NOT_FOUND') {
        throw new OkError('NOT_FOUND', `${e.message} (some catalog sources could not be read: ${warnings.join('; ')})`);
      }
      throw e;
    }
    if (!entry.installable) {
      throw new OkError('UNSUPPORTED', `"${entry.ref}" cannot be installed: ${entry.problem ?? 'unknown reason'}.`);
    }
    const roles: { role: Role; sha256: string }[] = [];
    for (const a of entry.artifacts) {
      const sha = await this.fetchArtifact(a, `${a.role} of ${entry.ref}`, opts.signal);
      roles.push({ role: a.role, sha256: sha });
    }
    const row = this.store.images.install(
      { ref: entry.ref, kind: entry.kind, version: entry.version, cmdline: entry.cmdline },
      roles,
    );
    this.store.events.append('image.installed', entry.ref, { roles });
    this.ctx.bus.emit({ type: 'catalog:changed' });
    return toImage(row);
  }

  /** Download (or copy, for file:// URLs) one artifact, verify it, extract its member; returns the sha256 used. */
  private async fetchArtifact(a: CatalogArtifact, label: string, signal?: AbortSignal): Promise<string> {
    const expected =
      a.sha256 ?? (a.sha256Url ? await fetchSha256File(a.sha256Url, artifactFileName(a.url), this.httpOpts()) : null);
    if (!expected) {
      throw new OkError(
        'CHECKSUM',
        `${label} (${a.url}) has no published SHA-256, so it cannot be verified; it was not installed.`,
      );
    }
    // Already installed (and extracted) under this digest: nothing to do.
    const known = this.extractedFrom(expected, a.extract);
    if (known) return known;

    let file: { sha256: string; size: number; path: string };
    if (a.url.startsWith('file:')) {
      file = await this.importLocal(fileURLToPath(a.url), expected);
    } else {
      const id = expected;
      this.store.downloads.describe(id, label);
      const base: DownloadProgress = {
        id,
        url: a.url,
        label,
        bytes: 0,
        total: a.size,
        rate: 0,
        eta: null,
        state: 'running',
        error: null,
      };
      this.progress(base);
      try {
        file = await this.downloader.download({
          url: a.url,
          sha256: expected,
          ...(a.size !== null ? { size: a.size } : {}),
          id,
          ...(signal ? { signal } : {}),
          onProgress: (p) => this.progress({ ...base, bytes: p.bytes, total: p.total, rate: p.rate, eta: p.eta }),
        });
      } catch (e) {
        const err = toErrorPayload(e);
        this.progress({
          ...(this.active.get(id) ?? base),
          state: err.code === 'CANCELLED' ? 'cancelled' : 'failed',
          error: err.message,
          rate: 0,
          eta: null,
        });
        this.active.delete(id);
        throw e;
      }
      this.store.downloads.describe(id, label, file.path);
      this.progress({
        ...(this.active.get(id) ?? base),
        bytes: file.size,
        total: file.size,
        state: 'done',
        rate: 0,
        eta: 0,
      });
      this.active.delete(id);
    }
    this.store.artifacts.put({ sha256: file.sha256, size: file.size, path: file.path, origin: a.url });
    if (!a.extract) return file.sha256;

    const tmp = path.join(this.ctx.paths.store, `.extract-${process.pid}-${Date.now()}`);
    try {
      await extractMember(file.path, a.extract, tmp);
      const entry = await this.downloader.cas.importFile(tmp);
      this.store.artifacts.put({
        sha256: entry.sha256,
        size: entry.size,
        path: this.downloader.cas.path(entry.sha256),
        origin: `${a.url}#${a.extract}`,
      });
      this.store.events.append('artifact.extracted', label, {
        from: file.sha256,
        member: a.extract,
        sha256: entry.sha256,
      });
      return entry.sha256;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }

  /** If the tarball `sha` was pulled and its `member` extracted before, the member's digest. */
  private extractedFrom(sha: string, member: string | null): string | null {
    if (!member) {
      const a = this.store.artifacts.get(sha);
      return a && fileSize(a.path) === a.size ? sha : null;
    }
    const ev = this.store.events
      .list(undefined, 1000)
      .find(
        (e) =>
          e.kind === 'artifact.extracted' &&
          (e.data as { from?: string }).from === sha &&
          (e.data as { member?: string }).member === member,
      );
    const out = (ev?.data as { sha256?: string } | undefined)?.sha256;
    if (!out) return null;
    const a = this.store.artifacts.get(out);
    return a && fileSize(a.path) === a.size ? out : null;
  }

  private async importLocal(
    src: string,
    expected: string | null,
  ): Promise<{ sha256: string; size: number; path: string }> {
    const { sha256 } = await sha256File(src).catch((e: unknown) => {
      throw new OkError('NOT_FOUND', `Cannot read ${src}: ${(e as Error).message}`);
    });
    if (expected && sha256 !== expected) {
      throw new OkError(
        'CHECKSUM',
        `${src} has SHA-256 ${sha256}, but ${expected} was expected; it was not installed.`,
      );
    }
    const entry = await this.downloader.cas.importFile(src).catch((e: unknown) => {
      throw this.diskFull(e);
    });
    if (expected && entry.sha256 !== expected) {
      // the file changed while it was being copied in
      throw new OkError(
        'CHECKSUM',
        `${src} changed while it was imported (now ${entry.sha256}, expected ${expected}); try again.`,
      );
    }
    return { sha256: entry.sha256, size: entry.size, path: this.downloader.cas.path(entry.sha256) };
  }

  /** A write that failed for lack of space (extraction's DISK_FULL included) names the data directory's disk. */
  private diskFull(e: unknown): unknown {
    const inner = e instanceof OkError && e.code === 'DISK_FULL' ? (e.cause ?? e) : e;
    return diskFullError(inner, this.ctx.paths.root) ?? e;
  }

  private progress(p: DownloadProgress): void {
    this.active.set(p.id, p);
    this.ctx.bus.emit({ type: 'download:progress', download: p });
  }

  downloads(): DownloadProgress[] {
    const rows = this.store.downloads.list().map((d): DownloadProgress => {
      const live = this.active.get(d.id);
      if (live) return live;
      return {
        id: d.id,
        url: d.url,
        label: this.store.downloads.label(d.id),
        bytes: d.bytesDone,
        total: d.total,
        rate: 0,
        eta: null,
        state: d.state,
        error: d.error?.message ?? null,
      };
    });
    for (const live of this.active.values()) if (!rows.some((r) => r.id === live.id)) rows.unshift(live);
    return rows;
  }

  async cancel(id: string): Promise<void> {
    const ok = await this.downloader.cancel(id);
    if (!ok) throw new OkError('NOT_FOUND', `No download with id ${id} is running.`);
  }

  // ------------------------------------------------------------------ installed images

  list(): Image[] {
    return this.store.images.list().map(toImage);
  }

  async remove(ref: string): Promise<void> {
    const inUse = this.store.vms.list().filter((v) => v.image === ref);
    if (inUse.length) {
      throw new OkError(
        'CONFLICT',
        `The image "${ref}" is used by ${inUse.map((v) => `"${v.name}"`).join(', ')}; remove those VMs first.`,
      );
    }
    this.store.images.remove(ref);
    for (const a of this.store.artifacts.unreferenced()) {
      await this.downloader.cas.remove(a.sha256);
      this.store.artifacts.remove(a.sha256);
    }
    this.ctx.bus.emit({ type: 'catalog:changed' });
  }

  /**
   * Rehash every artifact against its name. A damaged file is taken out of the
   * store (its content is not what its name says), so the next pull fetches it again.
   */
  async verify(): Promise<VerifyResult[]> {
    const out: VerifyResult[] = [];
    const images = this.store.images.list();
    for (const a of this.store.artifacts.list()) {
      const r = await this.downloader.cas
        .verify(a.sha256)
        .catch((e: unknown) => ({ ok: false as const, actual: '', err: e }));
      let problem: string | null = null;
      if (!r.ok) {
        const users = images.filter((img) => img.artifacts.some((x) => x.sha256 === a.sha256));
        const repair = users.length
          ? `used by ${users.map((img) => `"${img.ref}"`).join(', ')}: ` +
            users.map((img) => (img.kind === 'local' ? 'import it again' : `run "oklinux pull ${img.ref}"`)).join(', ')
          : 'a download cache no image uses';
        if ('err' in r) {
          problem = `cannot be read (${(r.err as Error).message}); ${repair}`;
        } else {
          await this.downloader.cas.remove(a.sha256);
          problem = `its content hashes to ${r.actual}, so it was removed from the store; ${repair}`;
        }
      }
      out.push({ sha256: a.sha256, path: a.path, ok: r.ok, problem });
    }
    const bldy = await this.verifyBldy();
    if (bldy) out.push(bldy);
    return out;
  }

  /**
   * The installed bin/bldy against the digest recorded when it was installed. A
   * changed one is removed (starts refuse it anyway); one okLinux did not
   * install is reported, never run, and left alone.
   */
  private async verifyBldy(): Promise<VerifyResult | null> {
    const bin = path.join(this.ctx.paths.bin, 'bldy');
    if (!fs.existsSync(bin)) return null;
    const actual = await sha256File(bin).then(
      (r) => r.sha256,
      () => null,
    );
    const rec = this.store.vmms.get('bldy');
    if (!rec) {
      return {
        sha256: actual ?? '0'.repeat(64),
        path: bin,
        ok: false,
        problem:
          'okLinux Desktop did not install it (no digest on record), so it is never run; remove it, or run "oklinux pull bldy"',
      };
    }
    if (actual === rec.sha256) return { sha256: rec.sha256, path: bin, ok: true, problem: null };
    fs.rmSync(bin, { force: true });
    return {
      sha256: rec.sha256,
      path: bin,
      ok: false,
      problem: `${actual ? `its content hashes to ${actual}` : 'it cannot be read'}, not to the digest recorded at install, so it was removed; run "oklinux pull bldy" to install it again`,
    };
  }

  /** Import a kernel file, a tarball holding arch/x86/boot/bzImage, or a manifest (added as a catalog source). */
  async import(src: string, name?: string): Promise<Image> {
    if (!fs.existsSync(src)) throw new OkError('NOT_FOUND', `${src} does not exist.`);
    if (src.endsWith('.json')) {
      await this.addSource(src);
      throw new OkError(
        'INVALID_INPUT',
        `${src} is a manifest: it was added as a catalog source. Pull one of its bundles.`,
      );
    }
    const ref = name ?? path.basename(src).replace(/\.(tar\.gz|tgz)$/, '');
    let sha: string;
    if (/\.(tar\.gz|tgz)$/.test(src)) {
      const tmp = path.join(this.ctx.paths.store, `.import-${process.pid}-${Date.now()}`);
      try {
        await extractMember(src, KERNEL_MEMBER, tmp);
        sha = (await this.importLocal(tmp, null)).sha256;
      } catch (e) {
        throw this.diskFull(e);
      } finally {
        fs.rmSync(tmp, { force: true });
      }
    } else {
      sha = (await this.importLocal(src, null)).sha256;
    }
    const a = this.downloader.cas.path(sha);
    this.store.artifacts.put({ sha256: sha, size: fs.statSync(a).size, path: a, origin: src });
    const row = this.store.images.install({ ref, kind: 'local', version: 'local', cmdline: 'console=ttyS0' }, [
      { role: 'kernel', sha256: sha },
    ]);
    this.ctx.bus.emit({ type: 'catalog:changed' });
    return toImage(row);
  }

  /**
   * Boot files for `ref`, pulling it first if `pull`. The kernel and initrd are
   * hashed again here (CHECKSUM when one changed since it was installed) and
   * returned as `pinned`, for the supervisor's own check right before the VMM
   * runs; the rootfs tarball is checked by size here and hashed before it is
   * extracted (`rootfsPin`).
   */
  async bootImage(
    ref: string,
    opts: { pull: boolean; signal?: AbortSignal },
  ): Promise<BootImage & { rootfs: string | null; image: ImageRow }> {
    let img = this.store.images.find(ref);
    if (!img) {
      if (!opts.pull) this.store.images.get(ref); // throws NOT_FOUND with the pull hint
      await this.pull(ref, opts.signal ? { signal: opts.signal } : {});
      img = this.store.images.get(ref);
    }
    const repair =
      img.kind === 'local'
        ? `Run "oklinux verify" (it takes damaged files out of the store), then import "${ref}" again.`
        : `Run "oklinux verify" (it takes damaged files out of the store), then "oklinux pull ${ref}".`;
    const pins = new Map<Role, PinnedFile>();
    for (const a of img.artifacts) {
      if (fileSize(a.path) !== a.size) {
        throw new OkError('CHECKSUM', `The ${a.role} of "${ref}" (${a.path}) is missing or damaged. ${repair}`);
      }
      const pin = { what: `the ${a.role} of "${ref}"`, path: a.path, sha256: a.sha256, repair };
      if (a.role !== 'rootfs') await checkPinned(pin);
      pins.set(a.role, pin);
    }
    const kernel = pins.get('kernel');
    if (!kernel) throw new OkError('NOT_FOUND', `The image "${ref}" has no kernel.`);
    const initrd = pins.get('initrd');
    const rootfs = pins.get('rootfs');
    return {
      kernelPath: kernel.path,
      ...(initrd ? { initrdPath: initrd.path } : {}),
      cmdline: img.cmdline,
      rootfs: rootfs?.path ?? null,
      ...(rootfs ? { rootfsPin: rootfs } : {}),
      pinned: initrd ? [kernel, initrd] : [kernel],
      image: img,
    };
  }

  // ------------------------------------------------------------------ bldy

  /**
   * Install the platform's bldy from the manifests' `vmm` entries; it must run
   * before it counts. Its SHA-256 is recorded (installed_vmms) and checked
   * before every start that uses it.
   */
  async installVmm(): Promise<string> {
    const { manifests } = await this.catalog();
    const os = process.platform === 'darwin' ? 'darwin' : process.platform === 'win32' ? 'windows' : 'linux';
    const arch = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
    const entry: ManifestVmm | undefined = manifests
      .flatMap((m) => m.vmm)
      .find((v) => v.name === 'bldy' && v.os === os && v.arch === arch);
    if (!entry)
      throw new OkError(
        'NOT_FOUND',
        `No catalog manifest offers bldy for ${os}/${arch}. Add one with "oklinux catalog add", or install QEMU.`,
      );
    const sha = await this.fetchArtifact(
      {
        role: 'kernel',
        url: entry.url,
        sha256: entry.sha256 ?? null,
        sha256Url: entry.sha256Url ?? null,
        size: entry.size ?? null,
        extract: entry.extract ?? null,
        format: null,
      },
      `bldy ${entry.version}`,
    );
    return installBldy(this.ctx, { from: this.downloader.cas.path(sha), sha256: sha, version: entry.version });
  }

  async close(): Promise<void> {
    await this.downloader.close();
    await Promise.all(this.owned.map((d) => d.close()));
  }
}

function fileSize(p: string): number | null {
  try {
    return fs.statSync(p).size;
  } catch {
    return null;
  }
}

export function toImage(row: ImageRow): Image {
  return {
    ref: row.ref,
    kind: row.kind,
    version: row.version,
    cmdline: row.cmdline,
    installedAt: row.installedAt,
    size: row.artifacts.reduce((n, a) => n + a.size, 0),
    artifacts: row.artifacts.map(({ role, sha256, size }) => ({ role, sha256, size })),
  };
}
