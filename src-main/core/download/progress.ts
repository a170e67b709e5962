import type { DownloadProgress } from './types';

/** Weight of the newest rate sample in the moving average. */
const ALPHA = 0.3;

/**
 * Turns a stream of byte counts into throttled progress events with a smoothed
 * rate and an ETA.
 */
export class ProgressMeter {
  private rate = 0;
  private lastAt = performance.now();
  private lastBytes = 0;
  private sampled = false;

  constructor(
    private readonly base: Pick<DownloadProgress, 'id' | 'url'>,
    private readonly emit: (p: DownloadProgress) => void,
    private readonly intervalMs: number,
  ) {}

  /** Restart the rate sample from `bytes` (after a retry or a restart from zero). */
  rebase(bytes: number): void {
    this.lastAt = performance.now();
    this.lastBytes = bytes;
  }

  /** Returns true when an event was emitted. */
  update(bytes: number, total: number | null, force = false): boolean {
    const now = performance.now();
    const dt = now - this.lastAt;
    if (!force && dt < this.intervalMs) return false;
    if (dt > 0) {
      const sample = ((bytes - this.lastBytes) * 1000) / dt;
      this.rate = this.sampled ? ALPHA * sample + (1 - ALPHA) * this.rate : sample;
      this.sampled = true;
    }
    this.lastAt = now;
    this.lastBytes = bytes;
    const eta = total !== null && this.rate > 0 ? Math.max(0, total - bytes) / this.rate : null;
    this.emit({ ...this.base, bytes, total, rate: this.rate, eta });
    return true;
  }
}
