/**
 * Per-command completion markers for tests that type into a guest's shell.
 *
 * A test never races the guest: each command is typed as
 * `printf '%s_%s\n' __begin N; CMD; printf '%s_%s\n' __done N`, and the test waits for the line
 * `__done_N` in the console output. The shell prints it only after CMD has finished (its writes
 * to a share are on the host by then), and the echo of the typed line cannot match, since it
 * reads `__done N`. The command's output is what lies between `__begin_N` and `__done_N`, so no
 * pattern can match the echo either. A prompt is no such signal: the console echoes typing at
 * once, and a prompt can appear before the command's output.
 */
let counter = 0;

export interface MarkedCommand {
  /** What to type, newline included. */
  line: string;
  /** Matches the marker line printed before the command runs. */
  begin: RegExp;
  /** Matches the marker line printed after it finished. */
  done: RegExp;
}

export function markCommand(cmd: string): MarkedCommand {
  const n = `${process.pid}x${++counter}`;
  return {
    line: `printf '%s_%s\\n' __begin ${n}; ${cmd}; printf '%s_%s\\n' __done ${n}\n`,
    begin: new RegExp(`__begin_${n}\\r*(?=\\n)`),
    done: new RegExp(`__done_${n}\\r*\\n`),
  };
}

/**
 * The output of a marked command in `text` (everything from `from` on): from the end of the
 * `__begin_N` line (its newline included, so patterns may start with `\n`) to `__done_N`. Null
 * until the command has finished.
 */
export function markedOutput(text: string, from: number, m: MarkedCommand): string | null {
  const rest = text.slice(from);
  const begin = m.begin.exec(rest);
  if (!begin) return null;
  const after = begin.index + begin[0].length;
  const done = m.done.exec(rest.slice(after));
  return done ? rest.slice(after, after + done.index) : null;
}

/** Throws naming the command and its output unless `output` matches `expect`; returns the match. */
export function expectOutput(cmd: string, output: string, expect: RegExp): string {
  const m = expect.exec(output);
  if (!m) throw new Error(`the output of \`${cmd}\` never matched ${expect}; it was:\n${output.slice(-1500)}`);
  return m[0];
}
