/**
 * The per-VM console log: appended as output arrives, capped in size, rotated to
 * `<file>.1` (one generation) when the cap is reached. Both are 0600: a console shows what
 * the guest prints, passwords typed at a prompt included.
 */
import fs from 'node:fs';
import { openPrivateFile } from '@core/datadir';

export const DEFAULT_LOG_CAP = 4 * 1024 * 1024;

export class ConsoleLog {
  private fd: number;
  private size: number;
  constructor(
    readonly file: string,
    readonly cap = DEFAULT_LOG_CAP,
  ) {
    this.fd = openPrivateFile(file);
    this.size = fs.fstatSync(this.fd).size;
  }

  write(data: string | Buffer): void {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    if (this.size + buf.length > this.cap && this.size > 0) this.rotate();
    fs.writeSync(this.fd, buf);
    this.size += buf.length;
  }

  private rotate(): void {
    fs.closeSync(this.fd);
    fs.renameSync(this.file, `${this.file}.1`);
    this.fd = openPrivateFile(this.file);
    this.size = 0;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

/** The last `bytes` of the log, reaching into the rotated generation when needed. */
export function tailLog(file: string, bytes: number): string {
  const read = (f: string, n: number): Buffer => {
    let fd: number;
    try {
      fd = fs.openSync(f, 'r');
    } catch {
      return Buffer.alloc(0);
    }
    try {
      const size = fs.fstatSync(fd).size;
      const len = Math.min(n, size);
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, size - len);
      return buf;
    } finally {
      fs.closeSync(fd);
    }
  };
  const cur = read(file, bytes);
  const older = cur.length < bytes ? read(`${file}.1`, bytes - cur.length) : Buffer.alloc(0);
  return Buffer.concat([older, cur]).toString('utf8');
}

/** Written to the log when a VM starts, so each boot's output can be told apart. */
export function bootMarker(at = new Date()): string {
  return `\r\n[oklinux] ---- VM started ${at.toISOString()} ----\r\n`;
}

/** The part of a log tail that belongs to the latest boot. */
export function currentBoot(tail: string): string {
  const i = tail.lastIndexOf('[oklinux] ---- VM started ');
  if (i < 0) return tail;
  const nl = tail.indexOf('\n', i);
  return nl < 0 ? '' : tail.slice(nl + 1);
}
