/**
 * Warnings for people (the engine's `warning` events, and the notices it raised
 * when it opened its data directory), kept in two views:
 * - `banner`: app-wide, newest last, until the user dismisses each one. A message
 *   already in it is not stacked again; at most BANNER_MAX are kept.
 * - per VM: the warnings of its latest start only. A VM that starts again (state
 *   `starting`, or a new `startedAt`) drops the previous run's warnings.
 * Nothing here is stored: a page opened later learns only what happens from then
 * on (plus the engine's notices, from `system:doctor`).
 */
import type { Vm } from '@contract';

export interface AppWarning {
  id: number;
  /** The VM it is about, or null for the whole app. */
  vm: string | null;
  message: string;
}

export const BANNER_MAX = 5;

export class Warnings {
  banner = $state<AppWarning[]>([]);
  /** Per VM: the run (its `startedAt`) the messages belong to, and the messages in order. */
  byVm = $state<Record<string, { startedAt: string | null; messages: string[] }>>({});
  #next = 1;
  /** Engine notices already put in the banner, so a reconnection does not bring back dismissed ones. */
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- bookkeeping only, nothing renders it
  #noticed = new Set<string>();

  /** A `warning` event. `startedAt` is the VM's current run, as the app last saw it. */
  add(vm: string | null, message: string, startedAt: string | null = null): void {
    const others = this.banner.filter((w) => w.message !== message);
    this.banner = [...others, { id: this.#next++, vm, message }].slice(-BANNER_MAX);
    if (vm === null) return;
    const run = this.byVm[vm];
    const earlier = run && run.startedAt === startedAt ? run.messages.filter((m) => m !== message) : [];
    this.byVm[vm] = { startedAt, messages: [...earlier, message] };
  }

  /** The engine's standing notices (`system:doctor` warnings): each shown once per page. */
  notice(messages: string[]): void {
    for (const m of messages) {
      if (this.#noticed.has(m)) continue;
      this.#noticed.add(m);
      this.add(null, m);
    }
  }

  dismiss(id: number): void {
    this.banner = this.banner.filter((w) => w.id !== id);
  }

  dismissAll(): void {
    this.banner = [];
  }

  /** The warnings of the VM's latest start. */
  forVm(name: string): string[] {
    return this.byVm[name]?.messages ?? [];
  }

  /** A VM's new state: a new start drops the warnings of the run before. */
  vmChanged(vm: Vm): void {
    const run = this.byVm[vm.name];
    if (!run) return;
    if (vm.state === 'starting' || (vm.startedAt !== null && vm.startedAt !== run.startedAt)) {
      delete this.byVm[vm.name];
    }
  }

  /** A VM was removed. */
  forget(name: string): void {
    delete this.byVm[name];
  }
}
