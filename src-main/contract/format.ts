/** Human formatting shared by the CLI and the UI: sizes, rates, ETAs. */

/**
 * A size for people: decimal units by default (`12 MB`, as downloads and images show), or with `binary`
 * powers of 1024 (`4.0 KiB`, `512 bytes`), as limits and free disk space are said. Unknown is `?`.
 */
export function formatBytes(n: number | null | undefined, opts: { binary?: boolean } = {}): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '?';
  const step = opts.binary ? 1024 : 1000;
  const units = opts.binary ? ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'] : ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= step && i < units.length - 1) {
    v /= step;
    i++;
  }
  if (opts.binary) return i === 0 ? `${n} bytes` : `${v.toFixed(1)} ${units[i]}`;
  return `${i === 0 ? v.toFixed(0) : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function formatRate(bytesPerSecond: number): string {
  return `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`;
}

/** `1h 02m`, `3m 07s`, `42s`, or `--` when unknown. */
export function formatEta(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}
