export { ContentStore, isSha256Hex, sha256File, type ContentEntry, type VerifyResult } from './cas';
export { Downloader } from './downloader';
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
