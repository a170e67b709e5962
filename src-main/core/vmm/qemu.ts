/**
 * QEMU: spec -> argv (pure).
 *
 * - `-nodefaults` drops the default serial, monitor, VGA and NIC, so `-nographic` only turns
 *   off the display and does not claim stdio. The console is serial port 1 on a stdio
 *   chardev with `signal=off`: Ctrl-C goes to the guest instead of killing QEMU.
 * - QMP listens on a unix socket (see qmp.ts); `-no-reboot` makes a guest reboot end QEMU.
 * - Each share is `-fsdev local,…,security_model=none[,readonly=on]` (no root needed; the
 *   mapped models break symlinks) plus `-device virtio-9p-pci`. `readonly=on` enforces a
 *   read-only share on the host; the guest also mounts it `ro`.
 * - The network (net.ts): a user-mode netdev (`restrict=on` for restricted) and a virtio-net-pci
 *   NIC, which the guest sees as eth0; none at all for `--net none`.
 * - A root disk is `-drive file=…,format=raw,if=none,id=root[,readonly=on]` plus
 *   `-device virtio-blk-pci,drive=root` (the guest's /dev/vda); `format=raw` stops QEMU from probing
 *   the image's format (a guest could otherwise write a qcow2 header into it).
 * - The machine (machine.ts, the one place its differences live): `pc`, QEMU's default (no `-M`), or
 *   `microvm` (`-M microvm`), where every virtio device is its `-device` form on virtio-mmio and the guest
 *   may get kernel parameters it needs there.
 * - In option values parsed by QEMU (fsdev path, qmp socket path) ',' is written ',,'. The
 *   values of -kernel, -initrd and -append are taken literally.
 */
import { OkError } from '@contract/errors';
import { kernelParamGroups, validateVmSpec } from './spec';
import { qemuNetArgs } from './net';
import { QEMU_MACHINES, virtioDevice } from './machine';
import type { VmSpec } from './types';

/** Escapes a value inside a QEMU `key=value,…` option string. */
export function qemuOptValue(value: string): string {
  return value.replaceAll(',', ',,');
}

/** The chardev id of the console. */
const QEMU_CONSOLE_CHARDEV = 'con0';

export function qemuArgv(spec: VmSpec): string[] {
  validateVmSpec(spec, 'qemu');
  for (const share of spec.shares) {
    if (share.p9Options?.length) {
      throw new OkError(
        'UNSUPPORTED',
        `VM "${spec.name}": share "${share.tag}" has bldy p9 options (${share.p9Options.join(', ')}), which QEMU does not support; remove them or use bldy`,
      );
    }
  }
  const machine = QEMU_MACHINES[spec.machine ?? 'pc'];
  const hasConsole = spec.params.some((g) => /(^|\s)console=/.test(g));
  const lead = hasConsole ? [] : ['console=ttyS0'];
  const machineParams = machine.params(spec.accel, spec.tscKhz);
  const groups = kernelParamGroups(spec, 'qemu', [...lead, ...machineParams].join(' '));
  const append = [...lead, ...groups, ...machineParams].join(' ');

  const argv = [
    ...(machine.option ? ['-M', machine.option] : []),
    '-nodefaults',
    '-no-user-config',
    '-nographic',
    '-accel',
    spec.accel,
    '-cpu',
    spec.accel === 'kvm' ? 'host' : 'max',
    '-m',
    `${spec.memoryMiB}M`,
    '-smp',
    String(spec.cpus),
    '-kernel',
    spec.kernelPath,
  ];
  if (spec.initrdPath !== undefined) argv.push('-initrd', spec.initrdPath);
  argv.push(
    '-append',
    append,
    '-chardev',
    `stdio,id=${QEMU_CONSOLE_CHARDEV},signal=off`,
    '-serial',
    `chardev:${QEMU_CONSOLE_CHARDEV}`,
    '-qmp',
    `unix:${qemuOptValue(spec.controlSocket)},server=on,wait=off`,
    '-no-reboot',
  );
  if (spec.net) argv.push(...qemuNetArgs(spec.net, spec.machine));
  if (spec.rootDisk) {
    const ro = spec.rootDisk.readOnly ? ',readonly=on' : '';
    argv.push(
      '-drive',
      `file=${qemuOptValue(spec.rootDisk.path)},format=raw,if=none,id=root${ro}`,
      '-device',
      `${virtioDevice('virtio-blk', spec.machine)},drive=root`,
    );
  }
  const exports = [...(spec.rootShare ? [{ ...spec.rootShare, readOnly: false }] : []), ...spec.shares];
  exports.forEach(({ tag, hostPath, readOnly }, i) => {
    const ro = readOnly ? ',readonly=on' : '';
    argv.push(
      '-fsdev',
      `local,id=fs${i},path=${qemuOptValue(hostPath)},security_model=none${ro}`,
      '-device',
      `${virtioDevice('virtio-9p', spec.machine)},fsdev=fs${i},mount_tag=${tag}`,
    );
  });
  return argv;
}
