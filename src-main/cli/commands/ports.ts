/** `oklinux port add|rm|ls`, and the `--publish` syntax `[ADDR:]HOST:GUEST[/tcp|/udp]`. */
import type { Port, PublishSpec } from '@contract';
import { OkError } from '@contract/errors';
import { needArgs, table, withEngine, type Command } from '../framework';

const PUBLISH_FORM = '[ADDR:]HOST:GUEST[/tcp|/udp], e.g. 8080:80 or 0.0.0.0:2222:22/tcp';

function portNumber(text: string, what: string, whole: string): number {
  const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= 65535)) {
    throw new OkError('INVALID_INPUT', `"${whole}": the ${what} port "${text}" is not a number from 1 to 65535`);
  }
  return n;
}

/** Parses `[ADDR:]HOST:GUEST[/tcp|/udp]`; ADDR is checked by the contract (an IPv4 address). */
export function parsePublish(text: string): PublishSpec {
  const slash = text.lastIndexOf('/');
  const proto = slash >= 0 ? text.slice(slash + 1) : 'tcp';
  if (proto !== 'tcp' && proto !== 'udp') {
    throw new OkError(
      'INVALID_INPUT',
      `"${text}": the protocol must be tcp or udp, not "${proto}". Use ${PUBLISH_FORM}`,
    );
  }
  const parts = (slash >= 0 ? text.slice(0, slash) : text).split(':');
  if (parts.length !== 2 && parts.length !== 3) {
    throw new OkError('INVALID_INPUT', `"${text}" is not a port to publish. Use ${PUBLISH_FORM}`);
  }
  const [guest, host, addr] = [...parts].reverse() as [string, string, string | undefined];
  return {
    ...(addr !== undefined ? { hostAddr: addr } : {}),
    hostPort: portNumber(host, 'host', text),
    guestPort: portNumber(guest, 'guest', text),
    protocol: proto,
  };
}

/** Parses `[ADDR:]HOST[/tcp|/udp]`, the host side of a published port (for `port rm`). */
function parseHostSide(text: string): { hostAddr?: string; hostPort: number; protocol?: 'tcp' | 'udp' } {
  const m = /^(?:([^:/]+):)?([^:/]+)(?:\/(tcp|udp))?$/.exec(text);
  if (!m) throw new OkError('INVALID_INPUT', `"${text}" is not a host port. Use [ADDR:]HOST[/tcp|/udp], e.g. 8080`);
  return {
    ...(m[1] !== undefined ? { hostAddr: m[1] } : {}),
    hostPort: portNumber(m[2]!, 'host', text),
    ...(m[3] !== undefined ? { protocol: m[3] as 'tcp' | 'udp' } : {}),
  };
}

export function portLine(p: Port): string {
  return `${p.hostAddr}:${p.hostPort} -> ${p.guestPort}/${p.protocol}`;
}

export const portCommand: Command = {
  name: 'port',
  usage: 'port <add|rm|ls> …',
  summary: "Publish a VM's ports on this computer (QEMU user-mode networking forwards them).",
  description:
    'A published port forwards HOST on this computer to GUEST in the VM. It listens on 127.0.0.1 unless ADDR ' +
    'is written out (0.0.0.0 makes it reachable from the network). Changes to a running VM apply at its next start; ' +
    'a host port another program holds is refused before the VM boots.',
  sub: [
    {
      name: 'add',
      usage: `add <vm> ${PUBLISH_FORM}`,
      summary: 'Publish a port.',
      async run(io, { positionals }) {
        needArgs(positionals, 2, `port ${this.usage}`);
        const spec = parsePublish(positionals[1]!);
        const port = await withEngine(io, (e) => e.invoke('ports:add', { vm: positionals[0]!, ...spec }));
        io.print(
          port,
          () =>
            `Published ${portLine(port)}${port.exposed ? ' (reachable from the network)' : ''}${port.pending ? '; applies at the next start' : ''}.`,
        );
      },
    },
    {
      name: 'rm',
      usage: 'rm <vm> [ADDR:]HOST[/tcp|/udp]',
      summary: 'Stop publishing a host port (applies at the next start if the VM runs).',
      async run(io, { positionals }) {
        needArgs(positionals, 2, `port ${this.usage}`);
        const host = parseHostSide(positionals[1]!);
        await withEngine(io, (e) => e.invoke('ports:remove', { vm: positionals[0]!, ...host }));
        io.print({ removed: positionals[1] }, () => `Removed the published port ${positionals[1]}.`);
      },
    },
    {
      name: 'ls',
      usage: 'ls <vm>',
      summary: "List a VM's published ports.",
      async run(io, { positionals }) {
        needArgs(positionals, 1, `port ${this.usage}`);
        const vm = positionals[0]!;
        const ports = await withEngine(io, (e) => e.invoke('ports:list', { vm }));
        io.print(ports, () =>
          ports.length
            ? table(
                ['HOST', 'GUEST', 'PROTO', ''],
                ports.map((p) => [
                  `${p.hostAddr}:${p.hostPort}`,
                  p.guestPort,
                  p.protocol,
                  [p.exposed ? 'reachable from the network' : '', p.pending ? 'applies at next start' : '']
                    .filter(Boolean)
                    .join('; '),
                ]),
              )
            : `The VM ${vm} publishes no ports. Publish one with "oklinux port add ${vm} 8080:80".`,
        );
      },
    },
  ],
};
