import { createHash } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { OkError } from '@contract/errors';
import { ContentStore, isSha256Hex } from './cas';
import { ProxyDispatcher } from './proxy';
import { CancelRequest, Transfer, type TransferSettings } from './transfer';
import type { DownloadProgress, DownloadRecord, DownloadRequest, DownloadResult, DownloaderOptions } from './types';
import { writeChunks } from './writer';

const ID = /^[A-Za-z0-9._-]{1,128}$/;

interface Job {
  id: string;
  key: string;
  abort: AbortController;
  listeners: Set<(p: DownloadProgress) => void>;
  /** Callers still waiting; when the last one gives up, the transfer is cancelled. */
  waiters: number;
  result: Promise<DownloadResult>;
}

function cancelledError(url: string): OkError {
  return new OkError('CANCELLED', `Download of ${url} was cancelled.`);
}

/**
 * Runs downloads into a content store: a concurrency limit, one transfer per
 * artifact however many callers ask for it, cancel, and state kept in a
 * `DownloadStateStore` so a later process resumes where this one stopped.
 */
export class Downloader {
  readonly cas: ContentStore;
  readonly partialDir: string;
  private readonly settings: TransferSettings;
  private readonly ownsDispatcher: boolean;
  private readonly concurrency: number;
  private running = 0;
  private readonly queue: Array<() => void> = [];
  private readonly byKey = new Map<string, Job>();
  private readonly byId = new Map<string, Job>();

  constructor(opts: DownloaderOptions) {
    this.cas = new ContentStore(opts.root);
    this.partialDir = opts.partialDir ?? join(opts.root, 'partial');
    this.concurrency = Math.max(1, opts.concurrency ?? 3);
    this.ownsDispatcher = opts.dispatcher === undefined;
    this.settings = {
      cas: this.cas,
      state: opts.state,
      // proxyTunnel: false sends plain http:// requests to an HTTP proxy as absolute-URI GETs (as curl does).
      dispatcher: opts.dispatcher ?? ProxyDispatcher.fromEnv(false),
      write: opts.write ?? writeChunks,
      writeBatchBytes: opts.writeBatchBytes ?? 1 << 20,
      stallTimeoutMs: opts.stallTimeoutMs ?? 30_000,
      maxRedirects: opts.maxRedirects ?? 10,
      retry: { retries: 5, baseDelayMs: 500, maxDelayMs: 30_000, ...opts.retry },
      progressIntervalMs: opts.progressIntervalMs ?? 100,
      userAgent: opts.userAgent ?? 'oklinux-desktop',
    };
  }

  /** The id a request gets when it names none. */
  static defaultId(req: Pick<DownloadRequest, 'url' | 'sha256'>): string {
    return req.sha256 ?? createHash('sha256').update(req.url).digest('hex');
  }

  /**
   * Download `req.url` into the content store and resolve with where it is.
   * Returns at once if the store already holds `req.sha256`. Concurrent calls for
   * the same artifact (same sha256, else same URL) share one transfer.
   */
  async download(req: DownloadRequest): Promise<DownloadResult> {
    const url = this.checkRequest(req);
    const sha = req.sha256?.toLowerCase();
    const cached = sha === undefined ? null : await this.cached(sha, req.size);
    if (cached) return cached;
    const key = sha ?? `url:${url}`;
    const id = req.id ?? Downloader.defaultId({ url, sha256: sha });
    const job = this.byKey.get(key) ?? this.start(key, id, { ...req, url, sha256: sha });
    this.byId.set(id, job);
    return this.wait(job, req);
  }

  /**
   * Cancel a download by id. A running transfer stops and keeps its .part for a
   * later resume unless `discard` is set. Resolves false when the id is unknown.
   */
  async cancel(id: string, opts: { discard?: boolean } = {}): Promise<boolean> {
    const job = this.byId.get(id);
    if (job) {
      job.abort.abort(new CancelRequest(opts.discard ?? false));
      await job.result.catch(() => undefined);
      return true;
    }
    const rec = await this.settings.state.get(id);
    if (!rec) return false;
    if (opts.discard) await rm(rec.partPath, { force: true });
    if (rec.state !== 'done') {
      const err = cancelledError(rec.url);
      await this.settings.state.upsert({ ...rec, state: 'cancelled', error: err.toJSON() });
    }
    return true;
  }

  /**
   * Stop every running or queued transfer (their .part files are kept, state
   * `cancelled`) and close the HTTP dispatcher if this downloader made it.
   */
  async close(): Promise<void> {
    const jobs = [...this.byKey.values()];
    for (const job of jobs) job.abort.abort(new CancelRequest(false));
    await Promise.allSettled(jobs.map((j) => j.result));
    if (this.ownsDispatcher) await this.settings.dispatcher.close();
  }

  private checkRequest(req: DownloadRequest): string {
    let parsed: URL;
    try {
      parsed = new URL(req.url);
    } catch {
      throw new OkError('INVALID_INPUT', `"${req.url}" is not a valid URL.`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new OkError('INVALID_INPUT', `Cannot download ${req.url}: only http and https URLs are supported.`);
    }
    if (req.sha256 !== undefined && !isSha256Hex(req.sha256.toLowerCase())) {
      throw new OkError('INVALID_INPUT', `Expected sha256 "${req.sha256}" for ${req.url} is not 64 hex characters.`);
    }
    if (req.id !== undefined && !ID.test(req.id)) {
      throw new OkError('INVALID_INPUT', `Download id "${req.id}" may only use letters, digits, ".", "_" and "-".`);
    }
    return parsed.href;
  }

  /** The stored artifact, if the store holds `sha` (with `size`, when given). */
  private async cached(sha: string, size: number | undefined): Promise<DownloadResult | null> {
    const have = await this.cas.sizeOf(sha);
    if (have === null || (size !== undefined && have !== size)) return null;
    return { sha256: sha, size: have, path: this.cas.path(sha) };
  }

  private start(key: string, id: string, req: DownloadRequest & { sha256: string | undefined }): Job {
    const abort = new AbortController();
    const listeners = new Set<(p: DownloadProgress) => void>();
    const result = this.runJob(id, abort.signal, listeners, req).finally(() => {
      this.byKey.delete(key);
      for (const [k, j] of this.byId) if (j.key === key) this.byId.delete(k);
    });
    // Callers observe the result through wait(); this keeps an unobserved failure from being unhandled.
    result.catch(() => undefined);
    const job: Job = { id, key, abort, listeners, waiters: 0, result };
    this.byKey.set(key, job);
    return job;
  }

  private async runJob(
    id: string,
    signal: AbortSignal,
    listeners: Set<(p: DownloadProgress) => void>,
    req: DownloadRequest & { sha256: string | undefined },
  ): Promise<DownloadResult> {
    const rec = await this.prepareRecord(id, req);
    try {
      await this.acquire(signal, rec.url);
    } catch (e) {
      // Cancelled while queued.
      const discard = signal.reason instanceof CancelRequest && signal.reason.discard;
      if (discard) await rm(rec.partPath, { force: true });
      await this.settings.state.upsert({ ...rec, state: 'cancelled', error: (e as OkError).toJSON() });
      throw e;
    }
    try {
      const cached = req.sha256 === undefined ? null : await this.cached(req.sha256, req.size);
      if (cached) {
        // Another downloader or process finished it while this one queued.
        await rm(rec.partPath, { force: true });
        await this.settings.state.upsert({
          ...rec,
          state: 'done',
          sha256: cached.sha256,
          bytesDone: cached.size,
          error: null,
        });
        return cached;
      }
      const emit = (p: DownloadProgress) => {
        for (const l of listeners) {
          try {
            l(p);
          } catch {
            // a listener's bug must not break the transfer
          }
        }
      };
      return await new Transfer(this.settings, rec, req.size ?? null, signal, emit).run();
    } finally {
      this.release();
    }
  }

  /** Load the saved state for `id`, or start afresh if there is none or it was for another artifact. */
  private async prepareRecord(
    id: string,
    req: DownloadRequest & { sha256: string | undefined },
  ): Promise<DownloadRecord> {
    await mkdir(this.partialDir, { recursive: true });
    const old = await this.settings.state.get(id);
    const expectedSha256 = req.sha256 ?? null;
    if (old && old.url === req.url && old.expectedSha256 === expectedSha256) {
      const rec: DownloadRecord = { ...old, state: 'queued', error: null };
      await this.settings.state.upsert(rec);
      return rec;
    }
    const partPath = join(this.partialDir, `${id}.part`);
    await rm(partPath, { force: true });
    const rec: DownloadRecord = {
      id,
      url: req.url,
      partPath,
      bytesDone: 0,
      total: null,
      etag: null,
      lastModified: null,
      expectedSha256,
      sha256: null,
      state: 'queued',
      error: null,
    };
    await this.settings.state.upsert(rec);
    return rec;
  }

  private wait(job: Job, req: DownloadRequest): Promise<DownloadResult> {
    job.waiters++;
    if (req.onProgress) job.listeners.add(req.onProgress);
    const signal = req.signal;
    return new Promise<DownloadResult>((resolve, reject) => {
      let left = false;
      const leave = (): boolean => {
        if (left) return false;
        left = true;
        signal?.removeEventListener('abort', onAbort);
        if (req.onProgress) job.listeners.delete(req.onProgress);
        job.waiters--;
        return true;
      };
      const onAbort = () => {
        // The last caller to give up cancels the transfer, and gets its outcome once it has stopped.
        if (job.waiters === 1) return job.abort.abort(new CancelRequest(false));
        if (leave()) reject(cancelledError(req.url));
      };
      void job.result.then(
        (r) => leave() && resolve(r),
        (e: unknown) => leave() && reject(e),
      );
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private acquire(signal: AbortSignal, url: string): Promise<void> {
    if (this.running < this.concurrency) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const go = () => {
        signal.removeEventListener('abort', onAbort);
        this.running++;
        resolve();
      };
      const onAbort = () => {
        this.queue.splice(this.queue.indexOf(go), 1);
        reject(cancelledError(url));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.queue.push(go);
    });
  }

  private release(): void {
    this.running--;
    this.queue.shift()?.();
  }
}
