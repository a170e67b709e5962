/**
 * Flow control between guest console output and xterm.js.
 *
 * Output is queued and handed to the terminal through xterm's write callback.
 * An idle terminal gets what is queued at once, so typing stays snappy. While
 * it is busy, pieces pile up and go out joined, as full writes of `chunkSize`
 * characters, never more than `maxInFlight` characters handed over and not yet
 * acknowledged; a remainder goes once the terminal is idle. A flood of output
 * then costs a few large writes instead of thousands of small ones, and the
 * terminal parses at its own pace while the page stays responsive.
 *
 * Sizes count UTF-16 code units (bytes, for ASCII output); a chunk never splits
 * a surrogate pair.
 */

/** Hand `data` to the terminal; call `done` once it has been processed. */
export type FlowWrite = (data: string, done: () => void) => void;

export interface FlowOptions {
  /** Largest single write; queued pieces are joined up to this size. */
  chunkSize?: number;
  /** Most characters written and not yet acknowledged. At least `chunkSize`. */
  maxInFlight?: number;
}

export const DEFAULT_CHUNK = 16 * 1024;
export const DEFAULT_IN_FLIGHT = 64 * 1024;

const isHighSurrogate = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;

export class ConsoleFlow {
  private readonly chunkSize: number;
  private readonly maxInFlight: number;
  private queue: string[] = [];
  private head = 0;
  private queuedLen = 0;
  private inFlightLen = 0;
  private pumping = false;
  /** Bumped by reset(), so acknowledgements of older writes are ignored. */
  private epoch = 0;

  constructor(
    private readonly write: FlowWrite,
    opts: FlowOptions = {},
  ) {
    this.chunkSize = Math.max(2, opts.chunkSize ?? DEFAULT_CHUNK);
    this.maxInFlight = Math.max(this.chunkSize, opts.maxInFlight ?? DEFAULT_IN_FLIGHT);
  }

  /** Characters written to the terminal and not yet acknowledged. */
  get inFlight(): number {
    return this.inFlightLen;
  }

  /** Characters waiting to be written. */
  get queued(): number {
    return this.queuedLen;
  }

  push(data: string): void {
    if (!data) return;
    this.queue.push(data);
    this.queuedLen += data.length;
    this.pump();
  }

  /** Drop everything queued (e.g. when the terminal is cleared or replaced). */
  reset(): void {
    this.epoch++;
    this.queue = [];
    this.head = 0;
    this.queuedLen = 0;
    this.inFlightLen = 0;
  }

  private pump(): void {
    if (this.pumping) return; // a synchronous acknowledgement: the running loop carries on
    this.pumping = true;
    try {
      while (this.queuedLen > 0) {
        // An idle terminal gets whatever is queued at once; a busy one only full chunks that fit.
        const n = Math.min(this.queuedLen, this.chunkSize);
        if (this.inFlightLen > 0 && (n < this.chunkSize || this.inFlightLen + n > this.maxInFlight)) break;
        const data = this.take(this.chunkSize);
        const epoch = this.epoch;
        let acked = false;
        this.inFlightLen += data.length;
        this.write(data, () => {
          if (acked || epoch !== this.epoch) return;
          acked = true;
          this.inFlightLen -= data.length;
          this.pump();
        });
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Remove and join up to `max` characters from the front of the queue. */
  private take(max: number): string {
    const parts: string[] = [];
    let len = 0;
    while (len < max && this.head < this.queue.length) {
      const piece = this.queue[this.head]!;
      const room = max - len;
      if (piece.length <= room) {
        parts.push(piece);
        len += piece.length;
        this.head++;
        continue;
      }
      const cut = isHighSurrogate(piece.charCodeAt(room - 1)) ? room - 1 : room;
      if (cut > 0) {
        parts.push(piece.slice(0, cut));
        this.queue[this.head] = piece.slice(cut);
        len += cut;
      }
      break;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.queuedLen -= len;
    return parts.join('');
  }
}

/** Split typed or pasted input into pieces the engine accepts (`console:write` takes at most 64 KiB). */
export function splitInput(data: string, max = 16 * 1024): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < data.length) {
    let end = Math.min(data.length, i + max);
    if (end < data.length && end - i > 1 && isHighSurrogate(data.charCodeAt(end - 1))) end--;
    out.push(data.slice(i, end));
    i = end;
  }
  return out;
}
