/**
 * One QUIC stream (web streams, from @matrixai/quic) as a Node Duplex for the relay: bytes in order, with
 * backpressure both ways, a half-close (end()) sent as the stream's FIN, and errors turned into messages that
 * name their cause (e.g. a server that refused our client certificate, which TLS 1.3 reports only after the
 * handshake, on the first stream).
 */
import { Duplex } from 'node:stream';
import type { QUICStream } from '@matrixai/quic';

export class QuicStreamDuplex extends Duplex {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  private pumping = false;

  constructor(
    stream: QUICStream,
    private readonly describe: (e: unknown) => Error,
  ) {
    super({ allowHalfOpen: true });
    this.reader = stream.readable.getReader() as ReadableStreamDefaultReader<Uint8Array>;
    this.writer = stream.writable.getWriter() as WritableStreamDefaultWriter<Uint8Array>;
  }

  override _read(): void {
    if (this.pumping) return;
    this.pumping = true;
    void this.pump();
  }

  private async pump(): Promise<void> {
    try {
      for (;;) {
        const { value, done } = await this.reader.read();
        if (done) {
          this.push(null);
          return;
        }
        // The library hands out a fresh copy per chunk, so a view of it is safe to pass on.
        if (!this.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength))) {
          this.pumping = false;
          return;
        }
      }
    } catch (e) {
      this.destroy(this.describe(e));
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.writer.write(chunk).then(
      () => cb(),
      (e: unknown) => cb(this.describe(e)),
    );
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.writer.close().then(
      () => cb(),
      (e: unknown) => cb(this.describe(e)),
    );
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.reader.cancel(err ?? undefined).catch(() => undefined);
    this.writer.abort(err ?? undefined).catch(() => undefined);
    cb(err);
  }
}
