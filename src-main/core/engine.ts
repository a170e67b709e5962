/**
 * The engine: one object that owns the state and implements every contract
 * operation. All three transports (Electron IPC, the WebSocket host, the CLI)
 * call it through `dispatch`, so validation and errors are the same everywhere.
 */
import type { AppEvent, Channel } from '@contract';
import { dispatch, type Envelope, type Handlers } from '@core/dispatch';
import { openContext, type EngineContext } from '@core/context';
import { OkError } from '@core/errors';
import { systemHandlers } from '@core/services/system';

export class Engine {
  readonly ctx: EngineContext;
  readonly handlers: Handlers;

  constructor(opts: { home?: string; env?: NodeJS.ProcessEnv } = {}) {
    this.ctx = openContext(opts);
    const notYet = (c: Channel) => () => {
      throw new OkError('UNSUPPORTED', `${c} is not available in this build yet.`);
    };
    const missing = {} as Record<Channel, () => never>;
    for (const c of [
      'catalog:list',
      'catalog:sources',
      'catalog:add',
      'catalog:remove',
      'images:list',
      'images:pull',
      'images:remove',
      'images:verify',
      'images:import',
      'downloads:list',
      'downloads:cancel',
      'vms:list',
      'vms:get',
      'vms:create',
      'vms:launch',
      'vms:start',
      'vms:stop',
      'vms:remove',
      'vms:logs',
      'console:attach',
      'console:detach',
      'console:write',
      'console:resize',
      'shares:list',
      'shares:add',
      'shares:update',
      'shares:remove',
    ] as Channel[])
      missing[c] = notYet(c);
    this.handlers = { ...missing, ...systemHandlers(this.ctx) } as Handlers;
  }

  call(channel: string, payload: unknown): Promise<Envelope> {
    return dispatch(this.handlers, channel, payload);
  }

  /** Call and unwrap: throws the OkError carried by an error envelope. */
  async invoke<C extends Channel>(
    channel: C,
    payload: unknown,
  ): Promise<ReturnType<Handlers[C]> extends Promise<infer R> ? R : ReturnType<Handlers[C]>> {
    const env = await this.call(channel, payload);
    if ('error' in env) throw new OkError(env.error.code, env.error.message);
    return env.result as never;
  }

  onEvent(listener: (e: AppEvent) => void): () => void {
    return this.ctx.bus.on(listener);
  }

  close(): void {
    this.ctx.store.close();
  }
}
