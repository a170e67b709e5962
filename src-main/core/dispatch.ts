/**
 * The shared dispatch used by every transport: validate the payload against the
 * contract, call the engine's handler, and wrap the outcome in the
 * `{ result } | { error: { code, message } }` envelope. Each transport says who
 * is calling (`Caller`), and handlers that must refuse some callers decide here
 * in the engine, not in the transport.
 */
import type { z } from 'zod';
import type { contract } from '@contract';
import type { Channel, Envelope, Output } from '@contract';
import { toErrorPayload } from '@contract/errors';
import { isEmptyPayload, NO_INPUT_CHANNELS } from '@contract/no-input';

/**
 * Who is calling. `local`: the desktop app's own window (Electron IPC from its
 * top frame) or this process itself (the CLI in the user's terminal, the app's
 * main process). `browser`: a web page, through the browser host's WebSocket
 * (`oklinux serve`); it may not change what okLinux executes.
 */
export type Caller = 'local' | 'browser';

export type Handlers = {
  [C in Channel]: (input: z.output<(typeof contract)[C]['input']>, caller: Caller) => Promise<Output<C>> | Output<C>;
};

/** The handlers of one contract service (`vms`: every `vms:*` channel), as its module in services/ provides them. */
export type ServiceHandlers<S extends string> = Pick<Handlers, Extract<Channel, `${S}:${string}`>>;

export async function dispatch(
  handlers: Handlers,
  channel: string,
  payload: unknown,
  caller: Caller,
): Promise<Envelope> {
  try {
    // an empty payload for a channel that takes none needs no schema (nor zod: see contract/no-input.ts)
    const input =
      NO_INPUT_CHANNELS.has(channel) && isEmptyPayload(payload)
        ? {}
        : (await import('@contract/validate')).validateInput(channel as Channel, payload);
    const handler = handlers[channel as Channel] as (i: unknown, c: Caller) => unknown;
    const result = await handler(input, caller);
    return { result: result === undefined ? null : result };
  } catch (e) {
    return { error: toErrorPayload(e) };
  }
}
