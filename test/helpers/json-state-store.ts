import fs from 'node:fs';
import type { DownloadRecord, DownloadStateStore } from '@core/download/types';

/**
 * A `DownloadStateStore` kept in one JSON file, written atomically on every
 * change, so state really survives a killed process. For tests only.
 */
export class JsonStateStore implements DownloadStateStore {
  constructor(readonly file: string) {}

  private read(): Record<string, DownloadRecord> {
    try {
      return JSON.parse(fs.readFileSync(this.file, 'utf8')) as Record<string, DownloadRecord>;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw e;
    }
  }

  private writeAll(all: Record<string, DownloadRecord>): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(all, null, 2));
    fs.renameSync(tmp, this.file);
  }

  get(id: string): DownloadRecord | undefined {
    return this.read()[id];
  }

  upsert(record: DownloadRecord): void {
    const all = this.read();
    all[record.id] = record;
    this.writeAll(all);
  }

  delete(id: string): void {
    const all = this.read();
    delete all[id];
    this.writeAll(all);
  }

  list(): DownloadRecord[] {
    return Object.values(this.read());
  }
}
