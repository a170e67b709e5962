/**
 * A VM's network, on both sides of the VMM.
 *
 * QEMU user-mode networking (slirp) needs no root and no host setup: the guest is 10.0.2.15/24, the
 * gateway 10.0.2.2 is the host's loopback, and 10.0.2.3 relays DNS to the host's resolver. With
 * `restrict=on` (okLinux's `restricted`) no guest traffic leaves the VM: DHCP still answers, but the
 * host, the DNS relay and the outside are unreachable; only explicit forwards work.
 *
 * bldy (crosvm) has no user-mode networking on Linux (it needs a TAP device, which needs
 * CAP_NET_ADMIN to make), so `nat` and `restricted` need QEMU: `auto` picks QEMU for them, and bldy
 * refuses them with that advice (see `bldyNetProblem`).
 *
 * Published ports are `hostfwd=PROTO:ADDR:HOST-:GUEST` rules on the netdev; they work under
 * `restrict=on` too (the host opens the connection).
 *
 * `tap:NAME` is a TAP device the user made (it needs CAP_NET_ADMIN: `ip tuntap add dev NAME mode tap user
 * USER`, as root, see `TAP_HOWTO`), for bldy (crosvm `--net tap-name=NAME`) and QEMU (`-netdev
 * tap,ifname=NAME,script=no,downscript=no`: no helper scripts run). Its addressing is the user's: the guest
 * asks DHCP, and without an answer only brings the link up. Published ports and the remote-share relay are
 * slirp forwards, so a TAP VM has neither.
 *
 * The guest side is one kernel parameter that oklinux-init reads (resources/guest/oklinux-init):
 * - `oklinux.net=none`: bring up `lo` only;
 * - `oklinux.net=IFACE:ADDR/PREFIX:GATEWAY:DNS`: bring up `lo`, then IFACE by DHCP when the root
 *   has a client (busybox udhcpc), else with this static address; DNS (may be empty) goes into a
 *   managed block of /etc/resolv.conf.
 * - `oklinux.net=IFACE:::` (a TAP): the same, but with no static address to fall back on.
 */
import { OkError } from '@contract/errors';
import { BACKEND_FACTS } from './facts';
import { shellQuote } from '@core/remote/guest';
import { QEMU_MACHINES, virtioDevice } from './machine';
import type { NetKind, NetMode, NetSpec, QemuMachine } from './types';

export const SLIRP_GUEST_CIDR = '10.0.2.15/24';
/** The host's loopback, as the guest sees it. */
export const SLIRP_HOST = '10.0.2.2';
export const SLIRP_DNS = '10.0.2.3';
/** The guest's interface: the VM's only NIC. */
export const GUEST_IFACE = 'eth0';
/** The QEMU netdev id. */
const NETDEV_ID = 'n0';

/** Linux's IFNAMSIZ is 16 bytes with the NUL. */
export const MAX_TAP_NAME_BYTES = 15;
const TAP_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** How to make a TAP device for a VM (doctor and refusals say it). */
export function tapHowto(name = 'tap0', user = '$USER'): string {
  return (
    `make it once, as root: "ip tuntap add dev ${name} mode tap user ${user}" and "ip link set ${name} up", ` +
    `then give it an address ("ip addr add 192.168.100.1/24 dev ${name}") and serve DHCP on it or set the ` +
    `guest's address yourself (add NAT with nftables/iptables for the internet)`
  );
}

/** The kind of a network mode: `tap:NAME` is `tap`. */
export function netKind(mode: NetMode): NetKind {
  return mode.startsWith('tap:') ? 'tap' : (mode as NetKind);
}

/** The TAP device of a `tap:NAME` mode, else null. */
export function tapName(mode: NetMode): string | null {
  return mode.startsWith('tap:') ? mode.slice(4) : null;
}

/** Throws INVALID_INPUT unless `name` can be a Linux interface name that is safe in an argv option. */
export function validateTapName(name: string): void {
  if (!name) throw new OkError('INVALID_INPUT', 'a TAP device needs a name: --net tap:NAME, e.g. --net tap:tap0');
  if (Buffer.byteLength(name) > MAX_TAP_NAME_BYTES) {
    throw new OkError(
      'INVALID_INPUT',
      `the TAP name "${name}" is ${Buffer.byteLength(name)} bytes; Linux interface names are at most ${MAX_TAP_NAME_BYTES} (IFNAMSIZ): shorten it`,
    );
  }
  if (!TAP_NAME_RE.test(name) || name === '.' || name === '..') {
    throw new OkError(
      'INVALID_INPUT',
      `the TAP name "${name}" may only have letters, digits, ".", "-" and "_", and may not start with "." or "-" (e.g. tap0)`,
    );
  }
}

/** Parses `--net` (nat, none, restricted, tap:NAME), naming the problem and the forms. */
export function parseNetMode(value: string): NetMode {
  if (value === 'nat' || value === 'none' || value === 'restricted') return value;
  if (value.startsWith('tap:')) {
    validateTapName(value.slice(4));
    return value as NetMode;
  }
  throw new OkError('INVALID_INPUT', `unknown network "${value}": use nat, restricted, none or tap:NAME`);
}

/** The kernel parameter that tells oklinux-init how to set up the guest's network. */
export function netParam(net: NetSpec): string {
  if (net.mode === 'none') return 'oklinux.net=none';
  // a TAP's addressing is the user's: DHCP, else only the link comes up
  if (netKind(net.mode) === 'tap') return `oklinux.net=${GUEST_IFACE}:::`;
  // restricted: the DNS relay is cut off too, so the guest gets no nameserver
  const dns = net.mode === 'nat' ? SLIRP_DNS : '';
  return `oklinux.net=${GUEST_IFACE}:${SLIRP_GUEST_CIDR}:${SLIRP_HOST}:${dns}`;
}

/**
 * QEMU options for the network: a user-mode netdev and a virtio-net NIC on it, on the machine's virtio
 * transport (qemu.ts). On PCI `romfile=` skips the NIC's iPXE option ROM: the kernel is booted directly, and
 * the ROM package need not be installed; an mmio NIC has no ROM.
 */
export function qemuNetArgs(net: NetSpec, machine: QemuMachine = 'pc'): string[] {
  const nic = `${virtioDevice('virtio-net', machine)},netdev=${NETDEV_ID}${QEMU_MACHINES[machine].virtio === 'pci' ? ',romfile=' : ''}`;
  if (net.mode === 'none') {
    if (net.forwards?.length)
      throw new OkError('INVALID_INPUT', 'a VM with no network (--net none) cannot publish ports');
    return [];
  }
  const tap = tapName(net.mode);
  if (tap !== null) {
    validateTapName(tap);
    if (net.forwards?.length)
      throw new OkError(
        'INVALID_INPUT',
        `a VM on the TAP device ${tap} cannot publish ports (they are user-mode networking forwards); reach the guest at its address on ${tap}`,
      );
    if (net.guestForwards?.length)
      throw new OkError(
        'INVALID_INPUT',
        `a VM on the TAP device ${tap} cannot use the remote-share relay (it needs nat or restricted)`,
      );
    return ['-netdev', `tap,id=${NETDEV_ID},ifname=${tap},script=no,downscript=no`, '-device', nic];
  }
  const restrict = net.mode === 'restricted' ? ',restrict=on' : '';
  // the guest address is left out: slirp forwards to the address its DHCP gave (10.0.2.15)
  const fwds = (net.forwards ?? []).map((f) => `,hostfwd=${f.protocol}:${f.hostAddr}:${f.hostPort}-:${f.guestPort}`);
  // the remote-share relay: QEMU runs the command once per guest connection, on its stdio; the command
  // line is split shell-style (quoted here), and ',' is doubled inside QEMU's option string
  for (const g of net.guestForwards ?? []) {
    const cmd = g.command.map(shellQuote).join(' ').replaceAll(',', ',,');
    fwds.push(`,guestfwd=tcp:${g.guestAddr}:${g.guestPort}-cmd:${cmd}`);
  }
  return ['-netdev', `user,id=${NETDEV_ID}${restrict}${fwds.join('')}`, '-device', nic];
}

/** Why bldy cannot give a VM this network (null when it can), with what to do instead. */
export function bldyNetProblem(vm: string, mode: NetSpec['mode']): string | null {
  if (BACKEND_FACTS.bldy.networking.includes(netKind(mode))) return null;
  return (
    `bldy cannot give the VM "${vm}" its network "${mode}": crosvm has no user-mode networking on Linux ` +
    `(it needs a TAP device). Use the QEMU backend (backend auto picks it for ${mode}), make the VM with ` +
    `--net tap:NAME for a TAP device you made (${tapHowto()}), or with --net none`
  );
}

/** crosvm's options for the network: `--net tap-name=NAME` for a TAP, nothing otherwise. */
export function bldyNetArgs(net: NetSpec | undefined): string[] {
  const tap = net ? tapName(net.mode) : null;
  if (tap === null) return [];
  validateTapName(tap);
  if (net?.forwards?.length)
    throw new OkError(
      'INVALID_INPUT',
      `a VM on the TAP device ${tap} cannot publish ports; reach the guest at its address on ${tap}`,
    );
  return ['--net', `tap-name=${tap}`];
}
