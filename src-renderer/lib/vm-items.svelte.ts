/**
 * What a VM's settings panel lists (its shares, its published ports), kept fresh: loaded for the VM, again on
 * every change to it (each arrives as a `vm:state` event, which replaces the panel's `vm`) and after each
 * action, with the last error to show. Made while a component initialises (it sets up an $effect).
 */
import { errorMessage } from './bridge';

export class VmItems<T> {
  items = $state<T[] | null>(null);
  error = $state<string | null>(null);
  busy = $state(false);

  constructor(
    private readonly vmName: () => string,
    private readonly list: (vm: string) => Promise<T[]>,
  ) {
    $effect(() => {
      void this.load(this.vmName());
    });
  }

  async load(name: string): Promise<void> {
    try {
      this.items = await this.list(name);
      this.error = null;
    } catch (e) {
      this.error = errorMessage(e);
    }
  }

  /** Runs a change (busy meanwhile), keeps its error to show, then reloads; true when it went through. */
  async act(fn: () => Promise<unknown>): Promise<boolean> {
    this.busy = true;
    try {
      await fn();
      this.error = null;
      return true;
    } catch (e) {
      this.error = errorMessage(e);
      return false;
    } finally {
      this.busy = false;
      await this.load(this.vmName());
    }
  }
}
