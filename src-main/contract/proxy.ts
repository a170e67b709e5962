/**
 * The API object of a front end (`api.vms.start(input)`), derived from CHANNELS over any function that
 * makes one contract call: every channel `<service>:<method>` becomes `api.<service>.<method>`. The
 * preload (Electron IPC) and the browser's WebSocket client are built this way, so a new channel reaches
 * both without a line written for it (and the CLI calls channels by name).
 */
import { CHANNELS, type Channel } from './channels';
import type { OkLinuxApi } from './api';

export type ContractCall = (channel: Channel, input: unknown) => Promise<unknown>;

export function apiFrom(call: ContractCall): Omit<OkLinuxApi, 'onEvent'> {
  const services: Record<string, Record<string, (input: unknown) => Promise<unknown>>> = {};
  for (const channel of CHANNELS) {
    const [service, method] = channel.split(':') as [string, string];
    (services[service] ??= {})[method] = (input) => call(channel, input);
  }
  return services as unknown as Omit<OkLinuxApi, 'onEvent'>;
}
