import type { FileHandle } from 'node:fs/promises';
import type { Dispatcher } from 'undici';
import type { ErrorPayload } from '@contract/errors';

export type DownloadState = 'queued' | 'running' | 'failed' | 'done' | 'cancelled';

/** The persisted state of one download, as the `DownloadStateStore` keeps it. */
export interface DownloadRecord {
  id: string;
  url: string;
  /** Where the bytes land while the transfer runs. Its size, not `bytesDone`, is the truth. */
  partPath: string;
  /** Bytes in the .part file when last saved (may lag after a crash). */
  bytesDone: number;
  /** Full size when the server told us, else null. */
  total: number | null;
  /** Validators from the server, sent back as If-Range on resume. */
  etag: string | null;
  lastModified: string | null;
  /** Lowercase hex SHA-256 the caller expects, or null. */
  expectedSha256: string | null;
  /** Lowercase hex SHA-256 of the finished content (set when `state` is done). */
  sha256: string | null;
  state: DownloadState;
  error: ErrorPayload | null;
}

type MaybePromise<T> = T | Promise<T>;

/** Where download state survives restarts. Sync or async implementations both work. */
export interface DownloadStateStore {
  get(id: string): MaybePromise<DownloadRecord | undefined>;
  upsert(record: DownloadRecord): MaybePromise<void>;
  delete(id: string): MaybePromise<void>;
  list(): MaybePromise<DownloadRecord[]>;
}

export interface DownloadProgress {
  id: string;
  url: string;
  /** Bytes of the artifact on disk so far (resumed prefix included). */
  bytes: number;
  total: number | null;
  /** Smoothed transfer rate in bytes per second. */
  rate: number;
  /** Seconds left at the current rate, or null when unknown. */
  eta: number | null;
}

export interface DownloadRequest {
  url: string;
  /** Expected lowercase hex SHA-256; checked before the file is installed. */
  sha256?: string;
  /** Expected size in bytes, if known (lets a cached artifact be trusted by size). */
  size?: number;
  /** Stable id for state and the .part file; defaults to the sha256, else a hash of the URL. */
  id?: string;
  signal?: AbortSignal;
  onProgress?: (progress: DownloadProgress) => void;
}

export interface DownloadResult {
  sha256: string;
  size: number;
  /** The file inside the content store: `<root>/sha256/<hex>`. */
  path: string;
}

/**
 * Writes `chunks` at `position` of the open .part file. Replaceable so tests can
 * inject failures such as ENOSPC.
 */
export type WriteFn = (file: FileHandle, chunks: Buffer[], position: number) => Promise<void>;

export interface RetryPolicy {
  /** Retries after the first try (reset whenever a try made progress). */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface DownloaderOptions {
  /** Content store root; finished files go to `<root>/sha256/<hex>`. */
  root: string;
  state: DownloadStateStore;
  /** Where .part files live; default `<root>/partial` (must be on the same filesystem as root). */
  partialDir?: string;
  /** Transfers running at once; default 3. */
  concurrency?: number;
  retry?: Partial<RetryPolicy>;
  /** Abort a try when no bytes (or headers) arrive for this long; default 30 000 ms. */
  stallTimeoutMs?: number;
  /** Redirect hops allowed per try; default 10. */
  maxRedirects?: number;
  /** HTTP dispatcher; default a `ProxyDispatcher` over the environment's proxy (http_proxy, https_proxy, no_proxy). */
  dispatcher?: Dispatcher;
  write?: WriteFn;
  /** Bytes gathered before one write; default 1 MiB. */
  writeBatchBytes?: number;
  /** Minimum gap between progress events; default 100 ms (at most 10/s). */
  progressIntervalMs?: number;
  userAgent?: string;
}
