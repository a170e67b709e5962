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
