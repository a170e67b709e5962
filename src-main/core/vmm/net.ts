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
 * The guest side is one kernel parameter that oklinux-init reads (resources/guest/oklinux-init):
 * - `oklinux.net=none`: bring up `lo` only;
 * - `oklinux.net=IFACE:ADDR/PREFIX:GATEWAY:DNS`: bring up `lo`, then IFACE by DHCP when the root
 *   has a client (busybox udhcpc), else with this static address; DNS (may be empty) goes into a
 *   managed block of /etc/resolv.conf.
 */
import { OkError } from '@contract/errors';
import { BACKEND_FACTS } from './facts';
import type { NetSpec } from './types';

export const SLIRP_GUEST_CIDR = '10.0.2.15/24';
/** The host's loopback, as the guest sees it. */
export const SLIRP_HOST = '10.0.2.2';
export const SLIRP_DNS = '10.0.2.3';
/** The guest's interface: the VM's only NIC. */
export const GUEST_IFACE = 'eth0';
/** The QEMU netdev id. */
const NETDEV_ID = 'n0';

/** The kernel parameter that tells oklinux-init how to set up the guest's network. */
export function netParam(net: NetSpec): string {
  if (net.mode === 'none') return 'oklinux.net=none';
  // restricted: the DNS relay is cut off too, so the guest gets no nameserver
  const dns = net.mode === 'nat' ? SLIRP_DNS : '';
  return `oklinux.net=${GUEST_IFACE}:${SLIRP_GUEST_CIDR}:${SLIRP_HOST}:${dns}`;
}

/**
 * QEMU options for the network: a user-mode netdev and a virtio-net PCI NIC on it. `romfile=`
 * skips the NIC's iPXE option ROM: the kernel is booted directly, and the ROM package need not be
 * installed.
 */
export function qemuNetArgs(net: NetSpec): string[] {
  if (net.mode === 'none') {
    if (net.forwards?.length)
      throw new OkError('INVALID_INPUT', 'a VM with no network (--net none) cannot publish ports');
    return [];
  }
  const restrict = net.mode === 'restricted' ? ',restrict=on' : '';
  // the guest address is left out: slirp forwards to the address its DHCP gave (10.0.2.15)
  const fwds = (net.forwards ?? []).map((f) => `,hostfwd=${f.protocol}:${f.hostAddr}:${f.hostPort}-:${f.guestPort}`);
  return [
    '-netdev',
    `user,id=${NETDEV_ID}${restrict}${fwds.join('')}`,
    '-device',
    `virtio-net-pci,netdev=${NETDEV_ID},romfile=`,
  ];
}

/** Why bldy cannot give a VM this network (null when it can), with what to do instead. */
export function bldyNetProblem(vm: string, mode: NetSpec['mode']): string | null {
  if (BACKEND_FACTS.bldy.networking.includes(mode)) return null;
  return (
    `bldy cannot give the VM "${vm}" its network "${mode}": crosvm has no user-mode networking on Linux ` +
    `(it needs a TAP device). Use the QEMU backend (backend auto picks it for ${mode}), or make the VM with --net none`
  );
}
