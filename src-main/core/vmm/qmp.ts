/**
 * A QMP client over a unix socket (QEMU's `-qmp unix:PATH,server=on,wait=off`).
 * QMP is JSON, one object per line: a greeting, then `{"execute", "arguments", "id"}`
 * requests answered by `{"return"|"error", "id"}`, interleaved with `{"event"}` messages.
 */
import net from 'node:net';
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { OkError } from '@contract/errors';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

export interface QmpStatus {
  /** e.g. 'prelaunch', 'running', 'paused', 'shutdown' */
  status: string;
  running: boolean;
}

export interface QmpOptions {
  /** Per command; default 10 s. */
  timeoutMs?: number;
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const RETRY_MS = 50;

export class QmpClient extends EventEmitter<{ event: [QmpEvent]; close: [] }> {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private buffer = '';
  private greeting: ((ok: boolean) => void) | null = null;
  private greeted = false;
  private isClosed = false;
  /** Resolves when the connection has closed (QEMU exited, or `close()`). */
  readonly closed: Promise<void>;

  private constructor(
    private readonly socket: net.Socket,
    readonly socketPath: string,
  ) {
    super();
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.isClosed = true;
        this.greeting?.(false);
        for (const [id, p] of this.pending) {
          clearTimeout(p.timer);
          this.pending.delete(id);
          p.reject(
            new OkError(
              'VMM',
              `QMP connection to ${socketPath} closed before "${p.command}" was answered (did QEMU exit?)`,
            ),
          );
        }
        this.emit('close');
        resolve();
      });
    });
    socket.on('error', () => {
      // 'close' follows and rejects what is pending
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
  }

  /**
   * Connects to the QMP socket at `socketPath`, waiting up to `timeoutMs` for QEMU to create
   * it, reads the greeting and negotiates capabilities.
   */
  static async connect(socketPath: string, opts: QmpOptions = {}): Promise<QmpClient> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let socket: net.Socket;
      try {
        socket = await openSocket(socketPath);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if ((code === 'ENOENT' || code === 'ECONNREFUSED') && Date.now() < deadline) {
          await sleep(RETRY_MS);
          continue;
        }
        throw new OkError(
          'VMM',
          `cannot connect to QMP socket ${socketPath} (${code ?? String(e)}) within ${timeoutMs} ms; is QEMU running?`,
          { cause: e },
        );
      }
      const client = new QmpClient(socket, socketPath);
      try {
        await client.waitGreeting(Math.max(deadline - Date.now(), 1));
        await client.execute('qmp_capabilities', undefined, { timeoutMs: Math.max(deadline - Date.now(), 1) });
      } catch (e) {
        client.close();
        throw e;
      }
      return client;
    }
  }

  private waitGreeting(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.greeting = null;
        reject(new OkError('TIMEOUT', `QMP socket ${this.socketPath} sent no greeting within ${timeoutMs} ms`));
      }, timeoutMs);
      this.greeting = (ok) => {
        clearTimeout(timer);
        this.greeting = null;
        if (ok) resolve();
        else reject(new OkError('VMM', `QMP socket ${this.socketPath} closed before its greeting`));
      };
      if (this.greeted) this.greeting(true);
      else if (this.isClosed) this.greeting(false);
    });
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line) this.onMessage(line);
    }
  }

  private onMessage(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return; // not QMP; nothing waits on it
    }
    if ('QMP' in msg) {
      this.greeted = true;
      this.greeting?.(true);
    } else if (typeof msg.event === 'string') {
      this.emit('event', msg as unknown as QmpEvent);
    } else if (typeof msg.id === 'number') {
      const p = this.pending.get(msg.id);
      if (!p) return; // answer to a command that already timed out
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      const error = msg.error as { class?: string; desc?: string } | undefined;
      if (error)
        p.reject(
          new OkError(
            'VMM',
            `QMP command "${p.command}" failed: ${error.class ?? 'Error'}: ${error.desc ?? 'no description'}`,
          ),
        );
      else p.resolve(msg.return);
    }
  }

  /** Runs a QMP command and resolves with its `return` value. Rejects VMM on error, TIMEOUT on silence. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, opts: QmpOptions = {}): Promise<T> {
    if (this.isClosed) {
      return Promise.reject(
        new OkError('VMM', `QMP connection to ${this.socketPath} is closed; cannot run "${command}"`),
      );
    }
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new OkError('TIMEOUT', `QMP command "${command}" got no answer within ${timeoutMs} ms on ${this.socketPath}`),
        );
      }, timeoutMs);
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      this.socket.write(JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id }) + '\n');
    });
  }

  /** Presses the ACPI power button: the guest is asked to shut down. */
  async systemPowerdown(opts?: QmpOptions): Promise<void> {
    await this.execute('system_powerdown', undefined, opts);
  }

  /** Ends QEMU at once. Resolves when QEMU answers or closes the connection. */
  async quit(opts?: QmpOptions): Promise<void> {
    try {
      await this.execute('quit', undefined, opts);
    } catch (e) {
      if (!this.isClosed) throw e;
    }
  }

  async queryStatus(opts?: QmpOptions): Promise<QmpStatus> {
    const r = await this.execute<{ status: string; running: boolean }>('query-status', undefined, opts);
    return { status: r.status, running: r.running };
  }

  /** Closes the connection (QEMU keeps running). */
  close(): void {
    this.socket.destroy();
  }
}

function openSocket(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    const onError = (e: Error): void => {
      socket.destroy();
      reject(e);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/** Shorthand for `QmpClient.connect`. */
export function connectQmp(socketPath: string, opts?: QmpOptions): Promise<QmpClient> {
  return QmpClient.connect(socketPath, opts);
}
