/**
 * The console socket protocol between a VM's supervisor and its clients (the
 * engine in the app, `oklinux console`): newline-delimited JSON over a unix
 * socket at `<run dir>/console.sock`.
 */
import type net from 'node:net';

export type ClientMessage =
  { type: 'input'; data: string } | { type: 'resize'; cols: number; rows: number } | { type: 'stop'; force: boolean };

export type ServerMessage =
  | { type: 'hello'; pid: number; state: string }
  | { type: 'data'; data: string }
  | { type: 'warning'; message: string }
  | { type: 'exit'; state: 'stopped' | 'crashed'; code: number | null; signal: string | null };

export function send(sock: net.Socket, msg: ClientMessage | ServerMessage): void {
  if (!sock.destroyed && sock.writable) sock.write(JSON.stringify(msg) + '\n');
}

/** Call `onMessage` for each complete JSON line received on `sock`. Malformed lines are dropped. */
export function onLines<T>(sock: net.Socket, onMessage: (msg: T) => void): void {
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line) continue;
      let msg: T;
      try {
        msg = JSON.parse(line) as T;
      } catch {
        continue;
      }
      onMessage(msg);
    }
  });
}
