import { describe, expect, it } from 'vitest';
import type { DownloadProgress } from '@contract';
import { formatBytes, formatEta, formatRate } from '@contract/format';
import { describeProgress } from '@renderer/lib/progress';

const base: DownloadProgress = {
  id: 'a'.repeat(64),
  url: 'https://example.test/k.tar.gz',
  label: 'kernel of kernel-6.6.1-abc',
  bytes: 0,
  total: 30_000_000,
  rate: 0,
  eta: null,
  state: 'running',
  error: null,
};

describe('download progress for people', () => {
  it('shows percent, bytes, rate and time left while running', () => {
    const v = describeProgress({ ...base, bytes: 12_600_000, rate: 4_130_000, eta: 125 });
    expect(v.percent).toBe(42);
    expect(v.text).toBe('42% · 13 MB of 30 MB · 4.1 MB/s · 2m 05s left');
  });

  it('has no percent and no ETA when the size is unknown', () => {
    const v = describeProgress({ ...base, total: null, bytes: 2_500_000, rate: 1_000_000, eta: null });
    expect(v.percent).toBeNull();
    expect(v.text).toBe('2.5 MB · 1.0 MB/s');
  });

  it('never shows more than 100%', () => {
    expect(describeProgress({ ...base, bytes: 31_000_000 }).percent).toBe(100);
  });

  it('says where a download stopped', () => {
    expect(describeProgress({ ...base, state: 'failed', bytes: 3_000_000, error: 'HTTP 500' }).text).toBe(
      'Failed at 3.0 MB of 30 MB',
    );
    expect(describeProgress({ ...base, state: 'cancelled', bytes: 0 }).text).toBe('Cancelled at 0 B of 30 MB');
    expect(describeProgress({ ...base, state: 'done', bytes: 30_000_000 })).toEqual({
      percent: 100,
      text: 'Done · 30 MB',
    });
    expect(describeProgress({ ...base, state: 'queued' }).text).toBe('Waiting to start');
  });

  it('formats ETAs, rates and sizes', () => {
    expect(formatEta(null)).toBe('--');
    expect(formatEta(Number.POSITIVE_INFINITY)).toBe('--');
    expect(formatEta(42.4)).toBe('42s');
    expect(formatEta(187)).toBe('3m 07s');
    expect(formatEta(3720)).toBe('1h 02m');
    expect(formatRate(12_345_678)).toBe('12.3 MB/s');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1_500_000_000)).toBe('1.5 GB');
    expect(formatBytes(null)).toBe('?');
    // binary, as limits and free disk space are said
    expect(formatBytes(512, { binary: true })).toBe('512 bytes');
    expect(formatBytes(4096, { binary: true })).toBe('4.0 KiB');
    expect(formatBytes(10 * 1024 ** 3, { binary: true })).toBe('10.0 GiB');
  });
});
