/**
 * What the desktop shows outside the page: the taskbar progress bar follows the
 * downloads in flight, and native notifications report a finished download and
 * a VM that crashed.
 */
import type { AppEvent, DownloadProgress, Vm } from '@contract';

export interface AttentionSink {
  /** -1 hides the bar, 0..1 is a fraction, 2 is indeterminate (Electron's setProgressBar). */
  setProgress(value: number): void;
  notify(title: string, body: string): void;
}

export const NO_PROGRESS = -1;
export const INDETERMINATE = 2;

export function createAttention(
  sink: AttentionSink,
  initialVms: Pick<Vm, 'name' | 'state'>[] = [],
): (e: AppEvent) => void {
  const active = new Map<string, DownloadProgress>();
  const announced = new Set<string>();
  const states = new Map(initialVms.map((vm) => [vm.name, vm.state]));
  let shown = NO_PROGRESS;

  const progress = (): number => {
    if (active.size === 0) return NO_PROGRESS;
    let bytes = 0;
    let total = 0;
    for (const d of active.values()) {
      if (d.total === null || d.total === 0) return INDETERMINATE;
      bytes += d.bytes;
      total += d.total;
    }
    return Math.min(1, bytes / total);
  };

  return (e) => {
    if (e.type === 'download:progress') {
      const d = e.download;
      if (d.state === 'queued' || d.state === 'running') active.set(d.id, d);
      else active.delete(d.id);
      if (d.state === 'done' && !announced.has(d.id)) {
        announced.add(d.id);
        sink.notify('Download finished', `${d.label} is downloaded and verified.`);
      }
      const value = progress();
      if (value !== shown) {
        shown = value;
        sink.setProgress(value);
      }
    } else if (e.type === 'vm:state') {
      const { name, state, lastError, exitCode, exitSignal } = e.vm;
      const before = states.get(name);
      states.set(name, state);
      if (state === 'crashed' && before !== 'crashed') {
        const why =
          lastError ?? (exitSignal ? `killed by ${exitSignal}` : exitCode !== null ? `exit code ${exitCode}` : null);
        sink.notify(
          `VM ${name} crashed`,
          `${name} stopped unexpectedly${why ? `: ${why}` : ''}. Open okLinux to restart it.`,
        );
      }
    }
  };
}
