/**
 * The shared dispatch used by every transport: validate the payload against the
 * contract, call the engine's handler, and wrap the outcome in the
 * `{ result } | { error: { code, message } }` envelope.
 */
import type { z } from 'zod';
import type { contract } from '@contract';
import { validateInput, type Channel, type Output } from '@contract';
import { toErrorPayload, type ErrorPayload } from '@core/errors';

export type Handlers = {
  [C in Channel]: (input: z.output<(typeof contract)[C]['input']>) => Promise<Output<C>> | Output<C>;
};

export type Envelope<T = unknown> = { result: T } | { error: ErrorPayload };

export async function dispatch(handlers: Handlers, channel: string, payload: unknown): Promise<Envelope> {
  try {
    const input = validateInput(channel as Channel, payload);
    const handler = handlers[channel as Channel] as (i: unknown) => unknown;
    const result = await handler(input);
    return { result: result === undefined ? null : result };
  } catch (e) {
    return { error: toErrorPayload(e) };
  }
}
