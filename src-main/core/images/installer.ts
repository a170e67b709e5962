/**
 * Installing: pulling a catalog entry (each artifact downloaded, resumable, verified against its
 * published SHA-256, its member extracted), progress for people, and installing bldy. What was
 * extracted from which archive is recorded (the extractions table), so a second pull reuses it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DownloadProgress, Image } from '@contract';
import { OkError, toErrorPayload } from '@contract/errors';
import type { EngineContext } from '@core/context';
import {
  artifactFileName,
  fetchSha256File,
  resolveRef,
  type CatalogArtifact,
  type CatalogEntry,
  type ManifestVmm,
} from '@core/catalog';
import { sha256File, type Downloader } from '@core/download';
import { extractMember } from '@core/extract';
import { diskFullError } from '@core/datadir';
import { installBldy } from './bldy-install';
import type { Catalog } from './catalog';
import { fileSize, toImage } from './image';

type Role = 'kernel' | 'initrd' | 'rootfs';

/** Something to fetch: a URL, its digest (or where it is published), and the member to extract, if any. */
export type Fetchable = Pick<CatalogArtifact, 'url' | 'sha256' | 'sha256Url' | 'size' | 'extract'>;

export class Installer {
  private readonly active = new Map<string, DownloadProgress>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly downloader: Downloader,
    private readonly catalogs: Catalog,
  ) {}

  private get store() {
    return this.ctx.store;
  }

  private httpOpts() {
    return this.catalogs.httpOpts();
  }

  private catalog() {
    return this.catalogs.catalog();
  }

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
      {
        ref: entry.ref,
        kind: entry.kind,
        version: entry.version,
        cmdline: entry.cmdline,
        rootfsFormat: entry.artifacts.find((a) => a.role === 'rootfs')?.format ?? null,
        virtioMmio: entry.virtioMmio,
      },
      roles,
    );
    this.store.events.append('image.installed', entry.ref, { roles });
    this.ctx.bus.emit({ type: 'catalog:changed' });
    return toImage(row);
  }

  /** Download (or copy, for file:// URLs) one artifact, verify it, extract its member; returns the sha256 used. */
  private async fetchArtifact(a: Fetchable, label: string, signal?: AbortSignal): Promise<string> {
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
      this.store.extractions.record(file.sha256, a.extract, entry.sha256);
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

  /** If the tarball `sha` was pulled and its `member` extracted before (and is still there), the member's digest. */
  private extractedFrom(sha: string, member: string | null): string | null {
    const out = member ? this.store.extractions.get(sha, member) : sha;
    if (!out) return null;
    const a = this.store.artifacts.get(out);
    return a && fileSize(a.path) === a.size ? out : null;
  }

  async importLocal(src: string, expected: string | null): Promise<{ sha256: string; size: number; path: string }> {
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
  diskFull(e: unknown): unknown {
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
        url: entry.url,
        sha256: entry.sha256 ?? null,
        sha256Url: entry.sha256Url ?? null,
        size: entry.size ?? null,
        extract: entry.extract ?? null,
      },
      `bldy ${entry.version}`,
    );
    return installBldy(this.ctx, { from: this.downloader.cas.path(sha), sha256: sha, version: entry.version });
  }
}
