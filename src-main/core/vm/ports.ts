/**
 * Published ports: a host port (on 127.0.0.1 unless another address is written out) that QEMU's
 * user-mode networking forwards to a port of the guest (`hostfwd`). They are rows of the VM, applied
 * at its next start like shares; a host port that is taken is refused before the VM boots.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { Port } from '@contract';
import { OkError } from '@contract/errors';
import type { PortRow } from '@core/store';

/** Where a port is published when no address is given: this computer only. */
export const DEFAULT_PORT_ADDR = '127.0.0.1';

export interface PortKey {
  hostAddr: string;
  hostPort: number;
  protocol: 'tcp' | 'udp';
}

/** Whether other computers can reach an address (every address outside 127.0.0.0/8). */
export function isExposed(hostAddr: string): boolean {
  return !hostAddr.startsWith('127.');
}

export function portLabel(p: PortKey): string {
  return `${p.hostAddr}:${p.hostPort}/${p.protocol}`;
}

export function toPort({ id: _id, vmId: _vmId, ...p }: PortRow): Port {
  return { ...p, exposed: isExposed(p.hostAddr) };
}

/** Whether two published ports would need the same host socket (0.0.0.0 covers every address). */
export function samePortSlot(a: PortKey, b: PortKey): boolean {
  return (
    a.protocol === b.protocol &&
    a.hostPort === b.hostPort &&
    (a.hostAddr === b.hostAddr || a.hostAddr === '0.0.0.0' || b.hostAddr === '0.0.0.0')
  );
}

function bindOnce(p: PortKey): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => {
    if (p.protocol === 'tcp') {
      const server = net.createServer();
      server.once('error', (e: NodeJS.ErrnoException) => resolve(e));
      server.listen({ host: p.hostAddr, port: p.hostPort, exclusive: true }, () => server.close(() => resolve(null)));
    } else {
      const sock = dgram.createSocket('udp4');
      sock.once('error', (e: NodeJS.ErrnoException) => {
        sock.close();
        resolve(e);
      });
      sock.bind({ address: p.hostAddr, port: p.hostPort, exclusive: true }, () => sock.close(() => resolve(null)));
    }
  });
}

/**
 * Refuses (CONFLICT, or INVALID_INPUT for an address or port this user cannot have) a port that
 * cannot be bound on the host right now, naming it and the fix. Binds and releases it at once.
 */
export async function checkHostPortFree(vm: string, p: PortKey & { guestPort: number }): Promise<void> {
  const e = await bindOnce(p);
  if (!e) return;
  const label = portLabel(p);
  const other = `publish the guest's port ${p.guestPort} on another host port ("oklinux port rm ${vm} ${p.hostPort}", then "oklinux port add ${vm} OTHER:${p.guestPort}")`;
  switch (e.code) {
    case 'EADDRINUSE':
      throw new OkError(
        'CONFLICT',
        `The VM "${vm}" publishes the host port ${label}, but another program on this computer is using it. Stop that program, or ${other}.`,
      );
    case 'EACCES':
      throw new OkError(
        'INVALID_INPUT',
        `The VM "${vm}" publishes the host port ${label}, which this user may not open (ports below 1024 need privileges). Use a host port of 1024 or more: ${other}.`,
      );
    case 'EADDRNOTAVAIL':
      throw new OkError(
        'INVALID_INPUT',
        `The VM "${vm}" publishes a port on ${p.hostAddr}, which is not an address of this computer. Use 127.0.0.1, 0.0.0.0 or one of its addresses.`,
      );
    default:
      throw new OkError('VMM', `The VM "${vm}" cannot open the host port ${label}: ${e.message}.`);
  }
}
