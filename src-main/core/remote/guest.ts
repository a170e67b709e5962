/**
 * The guest side of remote 9p shares. Each remote share gets a fixed virtual address in the VM's
 * user-mode network, `RELAY_ADDR:RELAY_PORT_BASE+N` (N: its place among the VM's remote shares); QEMU
 * forwards each guest connection there to the relay client (`guestfwd=tcp:ADDR:PORT-cmd:…`), and so to
 * the supervisor's relay (relay.ts), which connects to the real server.
 *
 * The guest contract: one kernel parameter per share, `oklinux.remote=TAG:PATH:ADDR:OPTIONS`, which
 * oklinux-init mounts with `mount -t 9p -o OPTIONS ADDR PATH` after the network is up, waiting at most
 * `REMOTE_MOUNT_WAIT_S` (an unreachable server never stops the boot), and reports with one line:
 * `oklinux-init: remote TAG mounted on PATH` or `oklinux-init: remote TAG failed: REASON`.
 */
import { OkError } from '@contract/errors';
import { parseRemoteUrl } from './url';

/** An address in slirp's 10.0.2.0/24 that nothing else uses (the guest is .15, the host .2, DNS .3). */
export const RELAY_ADDR = '10.0.2.100';
export const RELAY_PORT_BASE = 564;
/**
 * The msize the guest asks for. A server that caps it answers its own limit in Rversion and the guest
 * uses that (diod: 65536; JetStream: 64 KiB + 24), so it never needs more than 65536. Asking more lets a
 * server that allows it carry a 64 KiB read (cat's sendfile chunk) in one Tread instead of two
 * (65512 + 24 bytes at 65536), which bench:net's read at the iounit showed to be 1.4-2x faster.
 */
export const REMOTE_MSIZE = 131072;
/** How long oklinux-init waits for one remote mount (its own constant, REMOTE_WAIT). */
export const REMOTE_MOUNT_WAIT_S = 8;

export interface RemoteMount {
  tag: string;
  guestPath: string;
  url: string;
  readOnly: boolean;
}

/** The guest's mount options for a remote share reached at `port` of the relay address. */
export function remoteMountOptions(url: string, port: number, readOnly: boolean): string {
  const { aname } = parseRemoteUrl(url);
  return [
    'trans=tcp',
    `port=${port}`,
    'version=9p2000.L',
    ...(aname ? [`aname=${aname}`] : []),
    `msize=${REMOTE_MSIZE}`,
    ...(readOnly ? ['ro'] : []),
  ].join(',');
}

/** The kernel parameter for the Nth remote share of a VM. */
export function remoteMountParam(share: RemoteMount, index: number): string {
  if (share.guestPath.includes(':'))
    throw new OkError('INVALID_INPUT', `remote share "${share.tag}": its guest path may not contain ":"`);
  const port = RELAY_PORT_BASE + index;
  return `oklinux.remote=${share.tag}:${share.guestPath}:${RELAY_ADDR}:${remoteMountOptions(share.url, port, share.readOnly)}`;
}

/** Quotes one argument for the shell-style split QEMU's guestfwd `cmd:` uses (g_shell_parse_argv). */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./=@%+-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** The guestfwd rule of the Nth remote share: the relay client, told the relay socket and the tag. */
export function relayForward(
  index: number,
  tag: string,
  relayClient: readonly string[],
  relaySocket: string,
): { guestAddr: string; guestPort: number; command: string[] } {
  return { guestAddr: RELAY_ADDR, guestPort: RELAY_PORT_BASE + index, command: [...relayClient, relaySocket, tag] };
}
