/**
 * The channels that take no input (`z.object({}).strict()` in channels.ts), named without zod: a transport
 * accepts an empty payload for them without loading the schemas, so `oklinux ls` (`vms:list`) never loads
 * zod (about a third of its start). Any other payload for them, and every other channel, is checked by
 * `validateInput` as before. test/contract/no-input.test.ts holds this list equal to the contract's.
 */
import type { Channel } from './channels';

export const NO_INPUT_CHANNELS: ReadonlySet<string> = new Set<Channel>([
  'system:doctor',
  'system:info',
  'settings:get',
  'catalog:sources',
  'images:list',
  'images:verify',
  'vmm:install',
  'downloads:list',
  'vms:list',
]);

/**
 * Whether `payload` is one every no-input channel accepts as is, giving `{}`: nothing (undefined or null,
 * read as `{}` by `validateInput`), or a plain object with no keys of its own.
 */
export function isEmptyPayload(payload: unknown): boolean {
  if (payload === undefined || payload === null) return true;
  if (typeof payload !== 'object' || Object.getPrototypeOf(payload) !== Object.prototype) return false;
  return Reflect.ownKeys(payload).length === 0;
}
