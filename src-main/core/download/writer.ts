import type { FileHandle } from 'node:fs/promises';
import type { WriteFn } from './types';

/** A write to the .part file failed (as opposed to the network). */
export class WriteFailure extends Error {
  constructor(readonly error: unknown) {
    super(error instanceof Error ? error.message : String(error), { cause: error });
  }
}

/** Drop the first `n` bytes from a list of buffers, without copying. */
function skipBytes(chunks: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < chunks.length && n >= chunks[i]!.length) n -= chunks[i++]!.length;
  const rest = chunks.slice(i);
  if (n > 0 && rest.length > 0) rest[0] = rest[0]!.subarray(n);
  return rest;
}

/** The default `WriteFn`: one positional writev, repeated after a short write. */
export const writeChunks: WriteFn = async (file, chunks, position) => {
  let rest = chunks;
  while (rest.length > 0) {
    const { bytesWritten } = await file.writev(rest, position);
    if (bytesWritten === 0) throw new Error(`writev wrote nothing at offset ${position}`);
    position += bytesWritten;
    rest = skipBytes(rest, bytesWritten);
  }
};

/** Start a background fdatasync after this many written bytes, so the final fsync has little left. */
const SYNC_EVERY = 64 << 20;

/**
 * Gathers incoming chunks into batches and writes them sequentially, with at
 * most one write in flight, so the file always holds a gap-free prefix and the
 * reader is held back (backpressure) while the disk is behind.
 */
export class BatchWriter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private inflight: Promise<void> | null = null;
  private syncing: Promise<void> | null = null;
  private unsynced = 0;
  private failure: { error: unknown } | null = null;
  private position: number;
  /** Bytes confirmed on disk (the file's size). */
  written: number;

  constructor(
    private readonly file: FileHandle,
    start: number,
    private readonly write: WriteFn,
    private readonly batchBytes: number,
  ) {
    this.position = start;
    this.written = start;
  }

  /** Queue a chunk; returns a promise only when the caller must wait for the disk. */
  push(chunk: Buffer): Promise<void> | undefined {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    return this.pendingBytes >= this.batchBytes ? this.flush() : undefined;
  }

  /** Write everything queued and wait for it. Throws the write error, if any. */
  async finish(): Promise<void> {
    await this.flush();
    await this.settle();
    this.throwIfFailed();
  }

  /** Wait for the write and sync in flight, ignoring their outcome (used before closing). */
  async settle(): Promise<void> {
    if (this.inflight) await this.inflight;
    this.inflight = null;
    if (this.syncing) await this.syncing;
  }

  private async flush(): Promise<void> {
    if (this.inflight) await this.inflight;
    this.inflight = null;
    this.throwIfFailed();
    if (this.pendingBytes === 0) return;
    const chunks = this.pending;
    const at = this.position;
    const end = at + this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    this.position = end;
    this.inflight = this.write(this.file, chunks, at).then(
      () => {
        this.written = end;
        this.unsynced += end - at;
        if (this.unsynced >= SYNC_EVERY && !this.syncing) this.startSync();
      },
      (error: unknown) => {
        this.failure = { error };
      },
    );
  }

  private startSync(): void {
    this.unsynced = 0;
    this.syncing = this.file.datasync().then(
      () => {
        this.syncing = null;
      },
      (error: unknown) => {
        this.failure = { error };
        this.syncing = null;
      },
    );
  }

  private throwIfFailed(): void {
    if (this.failure) throw new WriteFailure(this.failure.error);
  }
}
