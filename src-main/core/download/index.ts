/**
 * This folder (core/download/) downloads: resumable, verified HTTP transfers into the content-addressed
 * store, through the configured proxy. It fetches bytes against a digest and knows nothing of images,
 * the catalog or VMs.
 */
export { ContentStore, isSha256Hex, sha256File, type ContentEntry, type VerifyResult } from './cas';
export { Downloader } from './downloader';
export { ProxyDispatcher, normalizeProxy, proxyRoute, type ProxyConfig, type ProxyRoute } from './proxy';
export { writeChunks } from './writer';
export type {
  DownloadProgress,
  DownloadRecord,
  DownloadRequest,
  DownloadResult,
  DownloadState,
  DownloadStateStore,
  DownloaderOptions,
  RetryPolicy,
  WriteFn,
} from './types';
