import { createHash, type Hash } from 'node:crypto';
import { open, rm, stat, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { OkError } from '@contract/errors';
import { hashFileInto, type ContentStore } from './cas';
import { header, openFollowingRedirects, type OpenedResponse } from './http';
import { ProgressMeter } from './progress';
import type {
  DownloadProgress,
  DownloadRecord,
  DownloadResult,
  DownloadStateStore,
  RetryPolicy,
  WriteFn,
} from './types';
import { BatchWriter, WriteFailure } from './writer';

export interface TransferSettings {
  cas: ContentStore;
  state: DownloadStateStore;
  dispatcher: Dispatcher;
  write: WriteFn;
  writeBatchBytes: number;
  stallTimeoutMs: number;
  maxRedirects: number;
  retry: RetryPolicy;
  progressIntervalMs: number;
  userAgent: string;
}

/** The reason a transfer's signal is aborted with by `Downloader.cancel`. */
export class CancelRequest {
  constructor(readonly discard: boolean) {}
}

/** A failure worth another try: network error, stall, truncated body, 5xx. */
class RetryableError extends Error {
  constructor(
    message: string,
    readonly kind: 'network' | 'stall' | 'status',
  ) {
    super(message);
  }
}

const RESTART = Symbol('restart');
const SAVE_EVERY_MS = 1000;

interface Plan {
  start: number;
  /** Bytes this response will carry, when known. */
  length: number | null;
  total: number | null;
}

function backoffDelay(failures: number, p: RetryPolicy): number {
  const cap = Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** (failures - 1));
  return cap / 2 + (Math.random() * cap) / 2;
}

function bytesLabel(n: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let unit = '';
  for (const u of units) {
    if (v < 1024) break;
    v /= 1024;
    unit = u;
  }
  return unit ? `${n} bytes (${v.toFixed(1)} ${unit})` : `${n} bytes`;
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
}

/** Drop a response body we will not read (its abort error goes nowhere). */
function discard(res: OpenedResponse): void {
  res.body.on('error', () => undefined);
  res.body.destroy();
}

function asRetryable(e: unknown): RetryableError | null {
  if (e instanceof RetryableError) return e;
  if (e instanceof OkError || e instanceof WriteFailure) return null;
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? new RetryableError(`${(e as Error).message} (${code})`, 'network') : null;
}

/** One artifact's transfer into `.part`, with retries, resume and verification. */
export class Transfer {
  private hashed: { hash: Hash; bytes: number } | null = null;
  /** Most bytes of the artifact ever held; a try that passes it made progress. */
  private highWater = 0;
  private savedAt = 0;
  private readonly meter: ProgressMeter;

  constructor(
    private readonly s: TransferSettings,
    private readonly rec: DownloadRecord,
    private readonly expectedSize: number | null,
    private readonly signal: AbortSignal,
    emit: (p: DownloadProgress) => void,
  ) {
    this.meter = new ProgressMeter({ id: rec.id, url: rec.url }, emit, s.progressIntervalMs);
  }

  async run(): Promise<DownloadResult> {
    try {
      const result = await this.retrying();
      await this.save({
        state: 'done',
        sha256: result.sha256,
        bytesDone: result.size,
        total: result.size,
        error: null,
      });
      return result;
    } catch (e) {
      const cancelled = this.signal.aborted;
      const discard = cancelled && this.signal.reason instanceof CancelRequest && this.signal.reason.discard;
      if (discard) await rm(this.rec.partPath, { force: true });
      const kept = await fileSize(this.rec.partPath);
      let err: OkError;
      if (cancelled) {
        const keptNote =
          kept > 0 ? ` ${bytesLabel(kept)} are kept in ${this.rec.partPath}; the next try resumes from there.` : '';
        err = new OkError('CANCELLED', `Download of ${this.rec.url} was cancelled.${keptNote}`);
      } else {
        err = e instanceof OkError ? e : new OkError('INTERNAL', (e as Error).message ?? String(e), { cause: e });
      }
      await this.save({ state: cancelled ? 'cancelled' : 'failed', bytesDone: kept, error: err.toJSON() });
      throw err;
    }
  }

  private async save(patch: Partial<DownloadRecord>): Promise<void> {
    Object.assign(this.rec, patch);
    this.savedAt = Date.now();
    await this.s.state.upsert({ ...this.rec });
  }

  private async retrying(): Promise<DownloadResult> {
    let failures = 0;
    let tries = 0;
    for (;;) {
      tries++;
      const before = this.highWater;
      try {
        return await this.attempt();
      } catch (e) {
        if (this.signal.aborted) throw e;
        const retry = asRetryable(e);
        if (!retry) throw e;
        if (this.highWater > before) failures = 0;
        if (failures >= this.s.retry.retries) throw this.exhausted(retry, tries);
        failures++;
        await sleep(backoffDelay(failures, this.s.retry), undefined, { signal: this.signal });
      }
    }
  }

  private exhausted(e: RetryableError, tries: number): OkError {
    const url = this.rec.url;
    const again = 'Check the network, then run it again: it resumes where it stopped.';
    switch (e.kind) {
      case 'stall':
        return new OkError('TIMEOUT', `Download of ${url} stalled after ${tries} tries: ${e.message}. ${again}`);
      case 'status':
        return new OkError('HTTP', `Download of ${url} failed after ${tries} tries: ${e.message}. Try again later.`);
      default:
        return new OkError('NETWORK', `Download of ${url} failed after ${tries} tries: ${e.message}. ${again}`);
    }
  }

  private async attempt(): Promise<DownloadResult> {
    for (;;) {
      const result = await this.tryOnce();
      if (result !== RESTART) return result;
      this.hashed = null;
      await rm(this.rec.partPath, { force: true });
    }
  }

  /** The validator for If-Range: a strong ETag, else Last-Modified. */
  private validator(): string | null {
    const { etag, lastModified } = this.rec;
    return etag !== null && !etag.startsWith('W/') ? etag : lastModified;
  }

  private async tryOnce(): Promise<DownloadResult | typeof RESTART> {
    const rec = this.rec;
    let offset = await fileSize(rec.partPath);
    const resumable = this.validator() !== null || rec.expectedSha256 !== null;
    if (offset > 0 && (!resumable || (rec.total !== null && offset > rec.total))) offset = 0;
    if (offset > 0) await this.hashPrefix(offset);
    if (offset > 0 && offset === rec.total) return this.complete(offset);

    const stall = new AbortController();
    const timer = setTimeout(() => stall.abort(), this.s.stallTimeoutMs);
    try {
      const res = await openFollowingRedirects(rec.url, {
        dispatcher: this.s.dispatcher,
        headers: this.requestHeaders(offset),
        signal: AbortSignal.any([this.signal, stall.signal]),
        maxRedirects: this.s.maxRedirects,
      });
      let plan: Plan | typeof RESTART;
      try {
        plan = this.accept(res, offset);
        if (plan !== RESTART) await this.begin(res, plan);
      } catch (e) {
        discard(res);
        throw e;
      }
      if (plan === RESTART) {
        discard(res);
        return RESTART;
      }
      return await this.receive(res, plan, timer);
    } catch (e) {
      if (stall.signal.aborted && !this.signal.aborted) {
        throw new RetryableError(`no data from the server for ${this.s.stallTimeoutMs} ms`, 'stall');
      }
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  private requestHeaders(offset: number): Record<string, string> {
    const headers: Record<string, string> = { 'user-agent': this.s.userAgent, 'accept-encoding': 'identity' };
    if (offset > 0) {
      headers.range = `bytes=${offset}-`;
      const v = this.validator();
      if (v !== null) headers['if-range'] = v;
    }
    return headers;
  }

  /** Decide what a response means for the bytes already in the .part file. */
  private accept(res: OpenedResponse, offset: number): Plan | typeof RESTART {
    const status = res.statusCode;
    const via = res.url === this.rec.url ? '' : ` (redirected to ${res.url})`;
    const cl = header(res.headers, 'content-length');
    const length = cl === undefined ? null : Number(cl);
    if (status === 200) return { start: 0, length, total: length };
    if (status === 206) {
      const cr = header(res.headers, 'content-range') ?? '';
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(cr);
      const total = m && m[3] !== '*' ? Number(m[3]) : null;
      const fits =
        m !== null &&
        Number(m[1]) === offset &&
        (total === null || this.rec.total === null || total === this.rec.total);
      if (fits && offset > 0)
        return { start: offset, length: Number(m[2]) - offset + 1, total: total ?? this.rec.total };
      if (offset > 0) return RESTART;
      throw new OkError(
        'HTTP',
        `${this.rec.url}${via} answered 206 with Content-Range "${cr}" to a request for the whole file.`,
      );
    }
    if ((status === 412 || status === 416) && offset > 0) return RESTART;
    if (status >= 500) throw new RetryableError(`the server answered HTTP ${status}${via}`, 'status');
    throw new OkError(
      'HTTP',
      `Download of ${this.rec.url} failed: the server answered HTTP ${status}${via}. Check the URL; retrying will not help.`,
    );
  }

  /** Record the response's validators and size, and check free disk space. */
  private async begin(res: OpenedResponse, plan: Plan): Promise<void> {
    const etag = header(res.headers, 'etag') ?? null;
    const lastModified = header(res.headers, 'last-modified') ?? null;
    await this.save({
      state: 'running',
      error: null,
      bytesDone: plan.start,
      total: plan.total,
      etag: plan.start === 0 ? etag : (etag ?? this.rec.etag),
      lastModified: plan.start === 0 ? lastModified : (lastModified ?? this.rec.lastModified),
    });
    if (plan.length === null) return;
    const dir = dirname(this.rec.partPath);
    const fs = await statfs(dir);
    const free = fs.bavail * fs.bsize;
    const needed = plan.length - (plan.start === 0 ? await fileSize(this.rec.partPath) : 0);
    if (needed > free) {
      throw new OkError(
        'DISK_FULL',
        `Not enough free space in ${dir} to download ${this.rec.url}: need ${bytesLabel(needed)}, ` +
          `only ${bytesLabel(free)} free. Free up space and try again.`,
      );
    }
  }

  private async hashPrefix(offset: number): Promise<void> {
    if (this.hashed?.bytes === offset) return;
    const hash = createHash('sha256');
    const n = await hashFileInto(hash, this.rec.partPath, offset);
    if (n !== offset) throw new OkError('INTERNAL', `${this.rec.partPath} changed while it was being read.`);
    this.hashed = { hash, bytes: offset };
  }

  private async receive(res: OpenedResponse, plan: Plan, stallTimer: NodeJS.Timeout): Promise<DownloadResult> {
    const file = await open(this.rec.partPath, plan.start > 0 ? 'r+' : 'w');
    const hashed = plan.start > 0 && this.hashed ? this.hashed : { hash: createHash('sha256'), bytes: 0 };
    this.hashed = hashed;
    const writer = new BatchWriter(file, plan.start, this.s.write, this.s.writeBatchBytes);
    this.meter.rebase(plan.start);
    try {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        stallTimer.refresh();
        hashed.hash.update(chunk);
        hashed.bytes += chunk.length;
        const wait = writer.push(chunk);
        if (wait) await wait;
        if (this.meter.update(hashed.bytes, plan.total) && Date.now() - this.savedAt >= SAVE_EVERY_MS) {
          await this.save({ bytesDone: writer.written });
        }
      }
      await writer.finish();
    } catch (e) {
      if (e instanceof WriteFailure) throw await this.writeError(e, writer.written);
      // Keep what arrived before the network failed: the next try resumes after it.
      await writer.finish().catch(() => undefined);
      throw e;
    } finally {
      await writer.settle();
      await file.close();
      this.highWater = Math.max(this.highWater, writer.written);
    }
    const received = hashed.bytes - plan.start;
    if (plan.length !== null && received !== plan.length) {
      throw new RetryableError(`the connection closed after ${received} of ${plan.length} bytes`, 'network');
    }
    return this.complete(hashed.bytes);
  }

  private async writeError(e: WriteFailure, written: number): Promise<OkError> {
    const code = (e.error as NodeJS.ErrnoException).code;
    const path = this.rec.partPath;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      await rm(path, { force: true });
      return new OkError(
        'DISK_FULL',
        `The disk holding ${dirname(path)} filled up while downloading ${this.rec.url} ` +
          `(after ${bytesLabel(written)}${this.rec.total === null ? '' : ` of ${bytesLabel(this.rec.total)}`}). ` +
          'The partial file was deleted and nothing was installed. Free up space and try again.',
        { cause: e.error },
      );
    }
    return new OkError('DATA_DIR', `Could not write ${path}: ${e.message}`, { cause: e.error });
  }

  /** The .part file holds `size` bytes, all hashed: verify and install it. */
  private async complete(size: number): Promise<DownloadResult> {
    const rec = this.rec;
    if (rec.total !== null && size < rec.total) {
      throw new RetryableError(`the server sent ${size} of ${rec.total} bytes`, 'network');
    }
    const sha256 = this.hashed!.hash.digest('hex');
    this.hashed = null;
    this.meter.update(size, rec.total ?? size, true);
    const expected = rec.expectedSha256;
    if (expected !== null && sha256 !== expected) {
      await rm(rec.partPath, { force: true });
      throw new OkError(
        'CHECKSUM',
        `Checksum mismatch for ${rec.url}: expected sha256 ${expected}, got ${sha256}. ` +
          'The download was deleted and nothing was installed; try again, and if it persists the published file or checksum is wrong.',
      );
    }
    if (this.expectedSize !== null && size !== this.expectedSize) {
      await rm(rec.partPath, { force: true });
      throw new OkError(
        'CHECKSUM',
        `Size mismatch for ${rec.url}: expected ${bytesLabel(this.expectedSize)}, got ${bytesLabel(size)}. The download was deleted.`,
      );
    }
    const path = await this.s.cas.adopt(rec.partPath, sha256);
    return { sha256, size, path };
  }
}
