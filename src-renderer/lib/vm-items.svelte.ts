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
  /** Whether `error` came from loading (cleared by the next load) rather than from an action. */
  private loadFailed = false;

  constructor(
    private readonly vmName: () => string,
    private readonly list: (vm: string) => Promise<T[]>,
  ) {
    $effect(() => {
      void this.load(this.vmName());
    });
  }

  /** Reloads the list. Clears a load error, never the error of an action (`act` keeps it until the next one). */
  async load(name: string): Promise<void> {
    try {
      this.items = await this.list(name);
      if (this.loadFailed) this.error = null;
      this.loadFailed = false;
    } catch (e) {
      this.error = errorMessage(e);
      this.loadFailed = true;
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
      this.loadFailed = false;
      return false;
    } finally {
      this.busy = false;
      await this.load(this.vmName());
    }
  }
}
