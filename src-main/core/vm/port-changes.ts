/**
 * Changing a VM's published ports: the rules the engine holds whichever front end asks. A VM with no
 * network publishes none; two ports never need the same host socket; like shares, a change to a
 * running VM is recorded as pending and applies at its next start (the VM says so: `pendingRestart`).
 * Whether the host port is free is checked at start (ports.ts), before anything boots.
 */
import type { Port, PublishSpec } from '@contract';
import { OkError } from '@contract/errors';
import type { EngineContext } from '@core/context';
import type { PortRow } from '@core/store';
import { tapName } from '@core/vmm/net';
import { PendingChanges, type VmView } from './pending';
import { DEFAULT_PORT_ADDR, portLabel, samePortSlot, toPort } from './ports';

/**
 * Checks `spec` against the VM's network and its other ports, then records it (inside the caller's
 * transaction). Used by ports:add and by a create with ports to publish.
 */
export function addPort(ctx: EngineContext, vm: string, spec: PublishSpec, pending: boolean): PortRow {
  const { store } = ctx;
  const row = store.vms.get(vm);
  const next = {
    hostAddr: spec.hostAddr ?? DEFAULT_PORT_ADDR,
    hostPort: spec.hostPort,
    guestPort: spec.guestPort,
    protocol: spec.protocol ?? 'tcp',
  };
  if (row.net === 'none') {
    throw new OkError(
      'INVALID_INPUT',
      `The VM "${vm}" has no network (--net none), so it cannot publish ports. Make a VM with --net nat or restricted.`,
    );
  }
  const tap = tapName(row.net);
  if (tap !== null) {
    throw new OkError(
      'INVALID_INPUT',
      `The VM "${vm}" is on the TAP device ${tap}, so it cannot publish ports (they are user-mode networking forwards): reach the guest at its address on that device, or make a VM with --net nat.`,
    );
  }
  const clash = store.ports.list(vm).find((p) => samePortSlot(p, next));
  if (clash) {
    throw new OkError(
      'ALREADY_EXISTS',
      `The VM "${vm}" already publishes the host port ${portLabel(clash)} (to its port ${clash.guestPort}). Pick another host port.`,
    );
  }
  return store.ports.add(vm, { ...next, pending });
}

export class PortChanges {
  /** A port change on a running VM applies at its next start. */
  private readonly pending: PendingChanges;

  constructor(
    private readonly ctx: EngineContext,
    vms: VmView,
  ) {
    this.pending = new PendingChanges(ctx, vms);
  }

  private get store() {
    return this.ctx.store;
  }

  list(vm: string): Port[] {
    return this.store.ports.list(vm).map(toPort);
  }

  add(vm: string, spec: PublishSpec): Port {
    const live = this.pending.running(vm);
    const port = this.store.tx(() => addPort(this.ctx, vm, spec, live));
    this.store.events.append('port.added', vm, { port: portLabel(port), guestPort: port.guestPort });
    this.pending.changed(vm, live);
    return toPort(port);
  }

  /** Removes the port published on `hostPort` (protocol and address narrow it when there are several). */
  remove(vm: string, hostPort: number, protocol?: Port['protocol'], hostAddr?: string): void {
    const matches = this.store.ports
      .list(vm)
      .filter(
        (p) =>
          p.hostPort === hostPort &&
          (protocol === undefined || p.protocol === protocol) &&
          (hostAddr === undefined || p.hostAddr === hostAddr),
      );
    if (matches.length === 0) {
      throw new OkError(
        'NOT_FOUND',
        `The VM "${vm}" publishes no host port ${hostPort}${protocol ? `/${protocol}` : ''}${hostAddr ? ` on ${hostAddr}` : ''}. See "oklinux port ls ${vm}".`,
      );
    }
    if (matches.length > 1) {
      throw new OkError(
        'INVALID_INPUT',
        `The VM "${vm}" publishes the host port ${hostPort} more than once (${matches.map(portLabel).join(', ')}); say which, e.g. "${matches[0]!.hostAddr}:${hostPort}/${matches[0]!.protocol}".`,
      );
    }
    const live = this.pending.running(vm);
    this.store.ports.remove(vm, matches[0]!.id);
    this.store.events.append('port.removed', vm, { port: portLabel(matches[0]!) });
    this.pending.changed(vm, live);
  }
}
