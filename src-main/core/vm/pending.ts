/**
 * A change to a VM's settings (its shares, its published ports) made while it runs applies at its next
 * start: the change is recorded as pending and the VM says so (`pendingRestart`). ShareChanges and
 * PortChanges both ask here whether the VM runs, and record the change the same way.
 */
import type { Vm } from '@contract';
import type { EngineContext } from '@core/context';

/** What a settings change needs of the VM lifecycle: the VM's real state, and its public view for events. */
export interface VmView {
  reconcile(name: string): void;
  vm(name: string): Vm;
}

export class PendingChanges {
  constructor(
    private readonly ctx: EngineContext,
    private readonly vms: VmView,
  ) {}

  /** Whether a change to the VM now applies only at its next start: it is not stopped or crashed. */
  running(vm: string): boolean {
    this.vms.reconcile(vm);
    const st = this.ctx.store.vms.get(vm).state;
    return st !== 'stopped' && st !== 'crashed';
  }

  /** Record a change: a running VM (`live`, from `running`) needs a restart for it; tell the front ends. */
  changed(vm: string, live: boolean): void {
    if (live) this.ctx.store.vms.update(vm, { restartNeeded: true });
    this.ctx.bus.emit({ type: 'vm:state', vm: this.vms.vm(vm) });
  }
}
