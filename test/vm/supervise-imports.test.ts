/**
 * The supervisor spawns the VMM as soon as it has checked its plan (#11 item 6: nothing awaited that the VMM
 * does not need). Everything it imports statically loads before that spawn, so its import graph must not reach
 * the contract's schemas (and with them zod: about 130 ms of the supervisor's 190 ms import here, measured on
 * dist/cli/supervise.mjs).
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SRC, reachable } from '../helpers/imports';

describe("the supervisor's static imports", () => {
  it('do not reach the contract schemas or zod', () => {
    const { files: seen, importedBy: reach } = reachable(path.join(SRC, 'core/vm/supervise-main.ts'));
    const bad = [path.join(SRC, 'contract/schemas.ts'), path.join(SRC, 'contract/index.ts'), 'zod'].filter((m) =>
      reach.has(m),
    );
    expect(
      bad.map(
        (m) => `${path.isAbsolute(m) ? path.relative(SRC, m) : m} (imported by ${path.relative(SRC, reach.get(m)!)})`,
      ),
    ).toEqual([]);
    expect(seen.size).toBeGreaterThan(10);
  });
});
