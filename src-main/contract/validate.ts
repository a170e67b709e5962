import type { z } from 'zod';
import { OkError } from './errors';
import { contract, type Channel, type Output } from './channels';

/** `a.b[0].c: message; d: message` — field-level, for people. */
export function formatZodError(err: z.ZodError): string {
  return err.issues
    .map((i) => {
      const path = i.path
        .map((p, idx) => (typeof p === 'number' ? `[${p}]` : idx === 0 ? String(p) : `.${String(p)}`))
        .join('');
      return path ? `${path}: ${i.message}` : i.message;
    })
    .join('; ');
}

export function isChannel(x: unknown): x is Channel {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(contract, x);
}

/** Check a raw payload against a channel's input schema; throws INVALID_INPUT naming each bad field. */
export function validateInput<C extends Channel>(
  channel: C,
  payload: unknown,
): z.output<(typeof contract)[C]['input']> {
  if (!isChannel(channel)) throw new OkError('INVALID_INPUT', `unknown operation "${String(channel)}"`);
  const schema = contract[channel].input as z.ZodType;
  const r = schema.safeParse(payload ?? {});
  if (!r.success) throw new OkError('INVALID_INPUT', `${channel}: ${formatZodError(r.error)}`);
  return r.data as z.output<(typeof contract)[C]['input']>;
}

export function validateOutput<C extends Channel>(channel: C, value: unknown): Output<C> {
  const r = (contract[channel].output as z.ZodType).safeParse(value);
  if (!r.success) throw new OkError('INTERNAL', `${channel} returned a bad result: ${formatZodError(r.error)}`);
  return r.data as Output<C>;
}
