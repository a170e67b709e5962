/**
 * A small command framework for `oklinux`: each command declares its options
 * (node:util parseArgs), usage and help text; `--help` works everywhere, and
 * errors map to exit codes that mean something (see `exitCodeFor`).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { AppEvent, Channel, Input, Output, Unsubscribe } from '@contract';
import { OkError } from '@contract/errors';
import type { Engine } from '@core/engine';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/**
 * What a command uses of the engine: contract calls and the event stream, nothing else. So the same
 * commands run against this process's own engine or a remote one (`oklinux serve`'s WebSocket).
 */
export interface EngineLink {
  invoke<C extends Channel>(channel: C, input: Input<C>): Promise<Output<C>>;
  onEvent(listener: (e: AppEvent) => void): Unsubscribe;
}

/** An engine a command connects to; `close` ends the connection (a local engine closes its database). */
export type EngineConnection = EngineLink & { close(): Promise<void> | void };

export interface CliIO {
  /** Connect to another engine instead of opening this process's own (the tests drive `oklinux serve` so). */
  connect?: () => Promise<EngineConnection>;
  json: boolean;
  home: string | undefined;
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Print `data` as one JSON line with --json, else the human text. */
  print(data: unknown, human: () => string): void;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  description?: string;
  options?: OptionSpec;
  /** Sub-commands (e.g. `catalog add`). */
  sub?: Command[];
  run?(
    io: CliIO,
    args: { positionals: string[]; values: Record<string, string | boolean | string[] | undefined> },
  ): Promise<number | void>;
}

export const GLOBAL_OPTIONS: OptionSpec = {
  json: { type: 'boolean' },
  home: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

export function helpText(cmd: Command, prefix: string): string {
  const lines = [`Usage: ${prefix} ${cmd.usage}`.trim(), '', cmd.summary];
  if (cmd.description) lines.push('', cmd.description);
  if (cmd.sub?.length) {
    lines.push('', 'Commands:');
    const w = Math.max(...cmd.sub.map((s) => (s.name.startsWith('__') ? 0 : s.name.length)));
    for (const s of cmd.sub.filter((c) => !c.name.startsWith('__'))) lines.push(`  ${s.name.padEnd(w)}  ${s.summary}`);
  }
  const opts = Object.entries(cmd.options ?? {});
  if (opts.length) {
    lines.push('', 'Options:');
    for (const [name, o] of opts) {
      const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ' VALUE' : ''}`;
      lines.push(`  ${flag}`);
    }
  }
  lines.push(
    '',
    'Global options:',
    '  --json       machine-readable output',
    '  --home DIR   data directory (default: $OKLINUX_HOME or the platform data dir)',
    '  -h, --help   this help',
  );
  return lines.join('\n') + '\n';
}

/** The index of the first word from `from` on that is not an option (nor `--home`'s value); argv.length if none. */
export function nextWordAt(argv: string[], from = 0): number {
  let i = from;
  // global options may appear before the command name
  while (i < argv.length && argv[i]!.startsWith('-')) i += argv[i] === '--home' ? 2 : 1;
  return Math.min(i, argv.length);
}

/** Parse argv for `cmd`, descending into sub-commands. Returns the leaf command and its parsed args. */
export function resolveCommand(root: Command, argv: string[]): { cmd: Command; path: string[]; rest: string[] } {
  let cmd = root;
  const path: string[] = [];
  let i = 0;
  while (cmd.sub && (i = nextWordAt(argv, i)) < argv.length) {
    const a = argv[i]!;
    const next = cmd.sub.find((s) => s.name === a);
    if (!next) {
      throw new OkError(
        'INVALID_INPUT',
        `unknown command "${[...path, a].join(' ')}". Run "oklinux ${path.join(' ')} --help" for the list.`.replace(
          /\s+--help/,
          ' --help',
        ),
      );
    }
    cmd = next;
    path.push(a);
    argv = [...argv.slice(0, i), ...argv.slice(i + 1)];
  }
  return { cmd, path, rest: argv };
}

export function parseFor(
  cmd: Command,
  rest: string[],
): { positionals: string[]; values: Record<string, string | boolean | string[] | undefined> } {
  try {
    const { positionals, values } = parseArgs({
      args: rest,
      options: { ...GLOBAL_OPTIONS, ...(cmd.options ?? {}) },
      allowPositionals: true,
      strict: true,
    });
    return { positionals, values: values as Record<string, string | boolean | string[] | undefined> };
  } catch (e) {
    throw new OkError('INVALID_INPUT', `${(e as Error).message.replace(/\. To specify.*$/s, '')}. See "--help".`);
  }
}

export function needArgs(positionals: string[], n: number, usage: string): void {
  if (positionals.length < n) throw new OkError('INVALID_INPUT', `missing arguments. Usage: oklinux ${usage}`);
  if (positionals.length > n) {
    throw new OkError('INVALID_INPUT', `unexpected argument "${positionals[n]}". Usage: oklinux ${usage}`);
  }
}

/** Render rows as an aligned text table. */
export function table(headers: string[], rows: (string | number | null)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null ? '-' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

/**
 * Open the engine for a command (or connect to the one `io.connect` names); closed when the command
 * finishes. Notices from opening (e.g. permissions tightened) and warnings raised while the command
 * runs go to stderr.
 */
export async function withEngine<T>(io: CliIO, fn: (engine: EngineLink) => Promise<T>): Promise<T> {
  if (!io.connect) return withLocalEngine(io, fn);
  const link = await io.connect();
  const off = link.onEvent((e) => {
    if (e.type === 'warning') io.stderr.write(`oklinux: warning: ${e.message}\n`);
  });
  try {
    return await fn(link);
  } finally {
    off();
    await link.close();
  }
}

/** This process's own engine, for what only it can do: host the engine for browsers (`oklinux serve`). */
export async function withLocalEngine<T>(io: CliIO, fn: (engine: Engine) => Promise<T>): Promise<T> {
  // loaded here: `--help` and a remote engine need none of it
  const { Engine } = await import('@core/engine');
  const engine = new Engine({ home: io.home });
  for (const n of engine.notices) io.stderr.write(`oklinux: ${n}\n`);
  const off = engine.onEvent((e) => {
    if (e.type === 'warning') io.stderr.write(`oklinux: warning: ${e.message}\n`);
  });
  try {
    return await fn(engine);
  } catch (e) {
    throw engine.diskFull(e);
  } finally {
    off();
    await engine.close();
  }
}
