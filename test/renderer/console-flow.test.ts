import { describe, expect, it } from 'vitest';
import { ConsoleFlow, splitInput } from '@renderer/lib/console-flow';

/** A terminal stand-in that acknowledges writes later, in order, like xterm's write callback. */
function slowTerminal() {
  const written: string[] = [];
  const acks: (() => void)[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  return {
    written,
    get maxInFlight() {
      return maxInFlight;
    },
    get pending() {
      return acks.length;
    },
    write(data: string, done: () => void) {
      written.push(data);
      inFlight += data.length;
      maxInFlight = Math.max(maxInFlight, inFlight);
      acks.push(() => {
        inFlight -= data.length;
        done();
      });
    },
    /** Acknowledge the oldest write (the terminal parsed it). */
    ackOne() {
      acks.shift()?.();
    },
  };
}

describe('ConsoleFlow', () => {
  it('coalesces a 10 MiB flood of small chunks, never exceeds the cap in flight, and writes everything in order', () => {
    const term = slowTerminal();
    const chunkSize = 16 * 1024;
    const maxInFlight = 64 * 1024;
    const flow = new ConsoleFlow((d, done) => term.write(d, done), { chunkSize, maxInFlight });

    const total = 10 * 1024 * 1024;
    const piece = 200;
    const expected: string[] = [];
    let pushed = 0;
    let n = 0;
    while (pushed < total) {
      const size = Math.min(piece, total - pushed);
      const data = `${String(n++).padStart(8, '0')}:`.padEnd(size, 'x').slice(0, size);
      expected.push(data);
      flow.push(data);
      pushed += size;
      // the terminal keeps up with roughly one chunk per 100 pieces pushed
      if (n % 100 === 0) term.ackOne();
      expect(flow.inFlight).toBeLessThanOrEqual(maxInFlight);
    }
    while (term.pending) term.ackOne();

    const out = term.written.join('');
    expect(out.length).toBe(total);
    expect(out).toBe(expected.join(''));
    expect(term.maxInFlight).toBeLessThanOrEqual(maxInFlight);
    for (const w of term.written) expect(w.length).toBeLessThanOrEqual(chunkSize);
    // 52,429 pieces went in; they came out as a few hundred writes near the chunk size
    expect(n).toBeGreaterThan(50_000);
    expect(term.written.length).toBeLessThanOrEqual(Math.ceil(total / chunkSize) + 8);
    expect(flow.queued).toBe(0);
    expect(flow.inFlight).toBe(0);
  });

  it('writes a trickle at once, piece by piece, when the terminal keeps up', () => {
    const written: string[] = [];
    const flow = new ConsoleFlow((d, done) => {
      written.push(d);
      done();
    });
    flow.push('login: ');
    flow.push('root\r\n');
    expect(written).toEqual(['login: ', 'root\r\n']);
    expect(flow.inFlight).toBe(0);
  });

  it('splits one huge write into chunks without breaking surrogate pairs', () => {
    const term = slowTerminal();
    const flow = new ConsoleFlow((d, done) => term.write(d, done), { chunkSize: 5, maxInFlight: 10 });
    const text = 'ab😀cd😀😀e'.repeat(50);
    flow.push(text);
    while (term.pending) term.ackOne();
    expect(term.written.join('')).toBe(text);
    for (const w of term.written) {
      expect(w.length).toBeLessThanOrEqual(5);
      expect(/[\ud800-\udbff]$/.test(w)).toBe(false);
    }
    expect(term.maxInFlight).toBeLessThanOrEqual(10);
  });

  it('drops queued output on reset and ignores acknowledgements of older writes', () => {
    const term = slowTerminal();
    const flow = new ConsoleFlow((d, done) => term.write(d, done), { chunkSize: 4, maxInFlight: 4 });
    flow.push('aaaabbbbcccc');
    expect(term.written).toEqual(['aaaa']);
    flow.reset();
    expect(flow.queued).toBe(0);
    term.ackOne(); // from before the reset: must not release anything
    expect(flow.inFlight).toBe(0);
    flow.push('dddd');
    expect(term.written).toEqual(['aaaa', 'dddd']);
  });
});

describe('splitInput', () => {
  it('keeps pieces under the limit and the text intact', () => {
    const paste = 'é😀x'.repeat(10_000);
    const pieces = splitInput(paste, 1000);
    expect(pieces.join('')).toBe(paste);
    for (const p of pieces) {
      expect(p.length).toBeLessThanOrEqual(1000);
      expect(/[\ud800-\udbff]$/.test(p)).toBe(false);
    }
    expect(splitInput('')).toEqual([]);
  });
});
