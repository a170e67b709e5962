/** `oklinux share`: host folders shared with a VM over virtio-9p. */
import path from 'node:path';
import { OkError } from '@contract/errors';
import { isRemoteUrl } from '@contract/schemas';
import { needArgs, table, withEngine, type Command } from '../framework';

export const shareCommand: Command = {
  name: 'share',
  usage: 'share <add|set|rm|ls> …',
  summary:
    'Share host folders with a VM over virtio-9p, or remote 9p servers (9p://HOST[:PORT]/ANAME, or JetStream: ' +
    '9p+quic://HOST:PORT/ANAME --ca FILE).',
  sub: [
    {
      name: 'add',
      usage:
        'add <vm> <host-dir>|9p://HOST[:PORT]/ANAME|9p+quic://HOST:PORT/ANAME [--ca FILE [--cert FILE --key FILE]] ' +
        '[--ro] [--tag T] [--guest-path P]',
      summary:
        'Share a host folder, or a remote 9p server (port 564 unless given; ANAME is the path, e.g. ' +
        '9p://127.0.0.1:5640/srv/data), which the guest mounts over its network through okLinux; ' +
        'the guest mounts it at /mnt/<tag> unless --guest-path. A JetStream server (9p over QUIC) is ' +
        "9p+quic://HOST:PORT/ANAME with --ca (the CA that signed the server's certificate; HOST is the name in it), " +
        'and --cert and --key (mode 600) for a client certificate.',
      options: {
        ro: { type: 'boolean' },
        tag: { type: 'string' },
        'guest-path': { type: 'string' },
        ca: { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
      },
      async run(io, { positionals, values }) {
        needArgs(positionals, 2, `share ${this.usage}`);
        // relative to here; the engine resolves links (realpath) and checks each file itself
        const file = (flag: 'ca' | 'cert' | 'key') => {
          const v = values[flag] as string | undefined;
          if (v === undefined) return {};
          if (!v) throw new OkError('INVALID_INPUT', `--${flag} needs a file: --${flag} FILE`);
          return { [flag]: path.resolve(v) };
        };
        const tlsFiles = { ...file('ca'), ...file('cert'), ...file('key') };
        if (isRemoteUrl(positionals[1]!)) {
          const share = await withEngine(io, (e) =>
            e.invoke('shares:addRemote', {
              vm: positionals[0]!,
              url: positionals[1]!,
              readOnly: values.ro === true,
              tag: values.tag as string | undefined,
              guestPath: values['guest-path'] as string | undefined,
              ...tlsFiles,
            }),
          );
          io.print(
            share,
            () =>
              `Shared ${share.hostPath} as "${share.tag}" at ${share.guestPath}${share.readOnly ? ' (read-only)' : ''}; ${share.pending ? 'applies at the next start' : 'the guest mounts it at its next boot'}.`,
          );
          return;
        }
        if (Object.keys(tlsFiles).length)
          throw new OkError(
            'INVALID_INPUT',
            `--ca, --cert and --key are for 9p+quic:// shares, not a host folder: leave them out, or give a 9p+quic://HOST:PORT/ANAME URL`,
          );
        // the engine resolves links itself (and names the link in its refusals)
        const hostPath = path.resolve(positionals[1]!);
        const share = await withEngine(io, (e) =>
          e.invoke('shares:add', {
            vm: positionals[0]!,
            hostPath,
            readOnly: values.ro === true,
            tag: values.tag as string | undefined,
            guestPath: values['guest-path'] as string | undefined,
          }),
        );
        io.print(
          share,
          () =>
            `Shared ${share.hostPath} as "${share.tag}" at ${share.guestPath}${share.readOnly ? ' (read-only)' : ''}${share.pending ? '; applies at the next start' : ''}.`,
        );
      },
    },
    {
      name: 'set',
      usage: 'set <vm> <tag> --ro|--rw',
      summary: 'Make a share read-only or writable (applies at the next start if the VM runs).',
      options: { ro: { type: 'boolean' }, rw: { type: 'boolean' } },
      async run(io, { positionals, values }) {
        needArgs(positionals, 2, `share ${this.usage}`);
        if ((values.ro === true) === (values.rw === true)) {
          throw new OkError('INVALID_INPUT', `say --ro or --rw. Usage: oklinux share ${this.usage}`);
        }
        const share = await withEngine(io, (e) =>
          e.invoke('shares:update', { vm: positionals[0]!, tag: positionals[1]!, readOnly: values.ro === true }),
        );
        io.print(
          share,
          () =>
            `The share "${share.tag}" (${share.hostPath}) is ${share.readOnly ? 'read-only' : 'writable'}${share.pending ? '; applies at the next start' : ''}.`,
        );
      },
    },
    {
      name: 'rm',
      usage: 'rm <vm> <tag>',
      summary: 'Stop sharing a folder (applies at the next start if the VM runs).',
      async run(io, { positionals }) {
        needArgs(positionals, 2, `share ${this.usage}`);
        await withEngine(io, (e) => e.invoke('shares:remove', { vm: positionals[0]!, tag: positionals[1]! }));
        io.print({ removed: positionals[1] }, () => `Removed the share ${positionals[1]}.`);
      },
    },
    {
      name: 'ls',
      usage: 'ls <vm> [--fstab]',
      summary: "List a VM's shares, or print them as /etc/fstab lines.",
      options: { fstab: { type: 'boolean' }, backend: { type: 'string' } },
      async run(io, { positionals, values }) {
        needArgs(positionals, 1, `share ${this.usage}`);
        const vm = positionals[0]!;
        await withEngine(io, async (e) => {
          if (values.fstab) {
            const backend = values.backend === 'bldy' ? 'bldy' : 'qemu';
            const lines = await e.invoke('shares:fstab', { vm, backend });
            io.print(lines, () => lines.join('\n'));
            return;
          }
          const shares = await e.invoke('shares:list', { vm });
          io.print(shares, () =>
            shares.length
              ? table(
                  ['TAG', 'HOST PATH / URL', 'GUEST PATH', 'MODE', ''],
                  shares.map((s) => [
                    s.tag,
                    s.hostPath,
                    s.guestPath,
                    s.readOnly ? 'ro' : 'rw',
                    [
                      s.remote && s.remote.state !== 'idle'
                        ? `${s.remote.state}${s.remote.problem ? `: ${s.remote.problem}` : ''}`
                        : '',
                      s.pending ? 'applies at next start' : '',
                    ]
                      .filter(Boolean)
                      .join('; '),
                  ]),
                )
              : `The VM ${vm} has no shares. Add one with "oklinux share add ${vm} <folder>".`,
          );
        });
      },
    },
  ],
};
