/** Download progress on the terminal while a command runs (`pull`, `run`, `start`). */
import type { DownloadProgress } from '@contract';
import { formatBytes, formatEta, formatRate } from '@contract/format';
import type { CliIO, EngineLink } from './framework';

/**
 * Show download progress while `fn` runs: a redrawn bar on a TTY, one JSON line
 * per event with --json, and a line per finished download otherwise.
 */
export async function withProgress<T>(io: CliIO, engine: EngineLink, fn: () => Promise<T>): Promise<T> {
  const tty = !io.json && io.stderr.isTTY === true;
  let drawn = false;
  const off = engine.onEvent((e) => {
    if (e.type !== 'download:progress') return;
    const d = e.download;
    if (io.json) {
      io.stdout.write(JSON.stringify({ event: 'progress', ...d }) + '\n');
      return;
    }
    if (tty) {
      io.stderr.write(`\r\x1b[2K${progressLine(d, (io.stdout as { columns?: number }).columns ?? 80)}`);
      drawn = true;
      if (d.state !== 'running') {
        io.stderr.write('\n');
        drawn = false;
      }
    } else if (d.state !== 'running') {
      io.stderr.write(`${d.label}: ${d.state}${d.error ? ` (${d.error})` : ''}, ${formatBytes(d.bytes)}\n`);
    }
  });
  try {
    return await fn();
  } finally {
    off();
    if (drawn) io.stderr.write('\n');
  }
}

export function progressLine(d: DownloadProgress, width: number): string {
  const pct = d.total ? Math.min(100, (d.bytes / d.total) * 100) : null;
  const right = `${pct === null ? '' : `${pct.toFixed(0).padStart(3)}% `}${formatBytes(d.bytes)}${d.total ? `/${formatBytes(d.total)}` : ''} ${formatRate(d.rate)} ETA ${formatEta(d.eta)}`;
  const label = d.label.length > 30 ? `${d.label.slice(0, 29)}…` : d.label;
  const barW = Math.max(10, width - label.length - right.length - 5);
  const fill = pct === null ? 0 : Math.round((barW * pct) / 100);
  return `${label} [${'#'.repeat(fill)}${'.'.repeat(barW - fill)}] ${right}`;
}
