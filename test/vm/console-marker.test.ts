/**
 * The console helpers wait for each command's completion marker, not for text the echo of the
 * typed line already holds (the cause of a flaky lifecycle test: `echo … > f && echo W-OK` was
 * "done" as soon as the tty echoed "W-OK", and the host read f before the guest wrote it).
 * A stand-in console plays the guest: it echoes what is typed at once, and answers later.
 */
import { describe, expect, it } from 'vitest';
import type { AppEvent } from '@contract';
import type { Engine } from '@core/engine';
import { ConsoleTap } from '../helpers/vm';
import { markCommand, markedOutput } from '../helpers/marker';

/** Just enough of an Engine for ConsoleTap: console:write echoes; `say` prints as the guest. */
function fakeConsole() {
  let listener: (e: AppEvent) => void = () => undefined;
  const typed: string[] = [];
  const emit = (data: string) => listener({ type: 'console:data', vm: 'g', data });
  const engine = {
    onEvent: (l: (e: AppEvent) => void) => {
      listener = l;
      return () => undefined;
    },
    invoke: async (_channel: string, payload: { data: string }) => {
      typed.push(payload.data);
      emit(payload.data.replace(/\n/g, '\r\n')); // the tty echo
      return null;
    },
  } as unknown as Engine;
  return { engine, typed, say: emit };
}

describe('per-command completion markers', () => {
  it('a command is not done when its echo arrives, only when its marker does; its output excludes the echo', async () => {
    const c = fakeConsole();
    const tap = new ConsoleTap(c.engine, 'g');
    let done: string | null = null;
    const run = tap.run('echo written > /mnt/shared/f && echo W-OK', /W-OK/).then((m) => (done = m));
    await new Promise((r) => setTimeout(r, 300));
    expect(tap.text).toContain('echo W-OK'); // the echo holds the pattern…
    expect(done).toBeNull(); // …but the command is not done
    const n = /__begin (\S+);/.exec(c.typed[0]!)![1]!;
    c.say(`__begin_${n}\r\n`);
    await new Promise((r) => setTimeout(r, 200));
    expect(done).toBeNull();
    c.say(`W-OK\r\n__done_${n}\r\n# `);
    await run;
    expect(done).toBe('W-OK');
    tap.close();
  });

  it('gives the output between the markers, and fails naming the output when it does not match', async () => {
    const c = fakeConsole();
    const tap = new ConsoleTap(c.engine, 'g');
    const out = tap.run('hostname');
    await new Promise((r) => setTimeout(r, 100));
    const n = /__begin (\S+);/.exec(c.typed[0]!)![1]!;
    c.say(`__begin_${n}\r\nguest\r\n__done_${n}\r\n`);
    expect(await out).toBe('\nguest\r\n');
    const bad = tap.run('true', /never/);
    await new Promise((r) => setTimeout(r, 100));
    const m = /__begin (\S+);/.exec(c.typed[1]!)![1]!;
    c.say(`__begin_${m}\r\n__done_${m}\r\n`);
    await expect(bad).rejects.toThrow(/the output of `true` never matched \/never\//);
    tap.close();
  });

  it('markers of one command never match another, nor the typed line', () => {
    const a = markCommand('x');
    const b = markCommand('y');
    expect(a.done.test(a.line)).toBe(false);
    expect(a.begin.test(a.line)).toBe(false);
    const [na, nb] = [a, b].map((m) => /__begin (\S+);/.exec(m.line)![1]!);
    let text = `${a.line}${b.line}`.replace(/\n/g, '\r\n');
    expect(markedOutput(text, 0, a)).toBeNull();
    text += `__begin_${na}\r\nout-a\r\n__done_${nb}\r\n`;
    expect(markedOutput(text, 0, a)).toBeNull();
    text += `__done_${na}\r\n`;
    expect(markedOutput(text, 0, a)).toBe('\nout-a\r\n__done_' + nb + '\r\n');
  });
});
