/**
 * `oklinux`: the command-line front end over the same engine and contract as
 * the desktop app.
 *
 * This folder (cli/) is the `oklinux` command line. Commands reach the engine only through the contract
 * (`EngineLink.invoke` and its events), so they run unchanged against a remote engine; besides contract/
 * they import only the engine's entries (core/engine.ts, core/vm/supervise-main.ts) and host/ (for
 * serve).
 */
import { OkError, toErrorPayload } from '@contract/errors';
import { exitCodeFor } from './exit-codes';
import { helpText, nextWordAt, parseFor, resolveCommand, type CliIO, type Command } from './framework';
import { commands } from './commands';

export async function main(argv: string[], io: Partial<CliIO> = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const json = argv.includes('--json');
  try {
    // only the named command's module is loaded; the others are listed by name and summary
    const entry = commands.find((c) => c.name === argv[nextWordAt(argv)]);
    const root: Command = {
      name: 'oklinux',
      usage: '[--json] [--home DIR] <command> [args]',
      summary: 'Run okLinux VMs: download kernels, create and start VMs, share host folders over 9p.',
      sub: entry ? [await entry.load()] : commands.map(({ name, summary }) => ({ name, summary, usage: name })),
    };
    const { cmd, path, rest } = resolveCommand(root, argv);
    const { positionals, values } = parseFor(cmd, rest);
    const prefix = ['oklinux', ...path.slice(0, -1)].join(' ');
    if (values.help || !cmd.run) {
      stdout.write(helpText(cmd, prefix));
      return values.help || cmd === root ? 0 : 2;
    }
    const home = typeof values.home === 'string' ? values.home : undefined;
    const cli: CliIO = {
      ...(io.connect ? { connect: io.connect } : {}),
      json,
      home,
      stdout,
      stderr,
      print(data, human) {
        stdout.write(json ? JSON.stringify(data) + '\n' : human() + '\n');
      },
    };
    const code = await cmd.run(cli, { positionals, values });
    return code ?? 0;
  } catch (e) {
    const err = toErrorPayload(e);
    if (json) stdout.write(JSON.stringify({ error: err }) + '\n');
    else stderr.write(`oklinux: ${err.message}\n`);
    if (!(e instanceof OkError) && process.env.OKLINUX_DEBUG) stderr.write(`${(e as Error).stack}\n`);
    return exitCodeFor(err.code);
  }
}

if (import.meta.url === `file://${process.argv[1]}` || /oklinux\.[cm]js$/.test(process.argv[1] ?? '')) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`oklinux: ${String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
