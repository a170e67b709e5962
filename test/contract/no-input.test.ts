/**
 * contract/no-input.ts names, without zod, the channels whose input is `{}` (so `oklinux ls` does not load
 * the schemas). The list must be exactly the contract's, and dispatch must treat their payloads as the
 * schemas do: an empty one is `{}`, anything else is checked by the schema and refused the same way.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CHANNELS, contract, validateInput, type Channel } from '@contract';
import { OkError } from '@contract/errors';
import { isEmptyPayload, NO_INPUT_CHANNELS } from '@contract/no-input';
import { dispatch, type Handlers } from '@core/dispatch';

/** A strict object schema with no fields: accepts `{}`, refuses any key. */
function takesNoInput(c: Channel): boolean {
  const input = contract[c].input as z.ZodType;
  return (
    input instanceof z.ZodObject &&
    Object.keys(input.shape).length === 0 &&
    input.safeParse({}).success &&
    !input.safeParse({ x: 1 }).success
  );
}

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(OkError);
    return `${(e as OkError).code}: ${(e as OkError).message}`;
  }
  throw new Error('accepted');
}

describe('channels that take no input', () => {
  it('are exactly the contract channels whose input is an empty strict object', () => {
    expect([...NO_INPUT_CHANNELS].sort()).toEqual(CHANNELS.filter(takesNoInput).sort());
  });

  it('an empty payload is one the schema accepts as {}; anything else goes to the schema', () => {
    for (const p of [undefined, null, {}, Object.create(Object.prototype)]) {
      expect(isEmptyPayload(p)).toBe(true);
      expect(validateInput('vms:list', p)).toEqual({});
    }
    for (const p of [{ x: 1 }, [], '', 0, false, Object.create(null), new Date(), { [Symbol('s')]: 1 }])
      expect(isEmptyPayload(p)).toBe(false);
  });

  it('dispatch gives handlers {} for an empty payload, and refuses others as validateInput does', async () => {
    const seen: unknown[] = [];
    const handlers = { 'vms:list': (input: unknown) => (seen.push(input), []) } as unknown as Handlers;
    for (const p of [undefined, null, {}])
      expect(await dispatch(handlers, 'vms:list', p, 'local')).toEqual({ result: [] });
    expect(seen).toEqual([{}, {}, {}]);
    for (const p of [{ all: true }, [], 'x']) {
      const env = await dispatch(handlers, 'vms:list', p, 'local');
      expect('error' in env && `${env.error.code}: ${env.error.message}`).toBe(
        errorOf(() => validateInput('vms:list', p)),
      );
    }
    expect(seen).toHaveLength(3);
    const unknown = await dispatch(handlers, 'vms:nope', {}, 'local');
    expect(unknown).toEqual({ error: { code: 'INVALID_INPUT', message: 'unknown operation "vms:nope"' } });
  });
});
