/** How a download reads to people: percent, bytes, rate and time left. */
import type { DownloadProgress } from '@contract';
import { formatBytes, formatEta, formatRate } from '@contract/format';

export interface ProgressView {
  /** 0-100, or null when the total size is unknown. */
  percent: number | null;
  /** e.g. `42% · 12 MB of 30 MB · 4.1 MB/s · 5s left` */
  text: string;
}

export function describeProgress(d: DownloadProgress): ProgressView {
  const percent = d.total ? Math.min(100, Math.floor((d.bytes / d.total) * 100)) : null;
  const size = d.total ? `${formatBytes(d.bytes)} of ${formatBytes(d.total)}` : formatBytes(d.bytes);
  switch (d.state) {
    case 'queued':
      return { percent, text: 'Waiting to start' };
    case 'running': {
      const parts = [percent === null ? null : `${percent}%`, size, formatRate(d.rate)];
      if (d.eta !== null) parts.push(`${formatEta(d.eta)} left`);
      return { percent, text: parts.filter((p) => p !== null).join(' · ') };
    }
    case 'done':
      return { percent: 100, text: `Done · ${formatBytes(d.total ?? d.bytes)}` };
    case 'cancelled':
      return { percent, text: `Cancelled at ${size}` };
    case 'failed':
      return { percent, text: `Failed at ${size}` };
  }
}
