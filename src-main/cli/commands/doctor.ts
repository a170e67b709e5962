import { formatBytes } from '@contract/format';
import { needArgs, withEngine, type Command } from '../framework';

export const doctorCommand: Command = {
  name: 'doctor',
  usage: 'doctor',
  summary: 'Check this machine: KVM, QEMU, bldy/crosvm, data directory, disk space.',
  async run(io, { positionals }) {
    needArgs(positionals, 0, 'doctor');
    const r = await withEngine(io, (e) => e.invoke('system:doctor', {}));
    io.print(r, () =>
      [
        `platform     ${r.platform} (${r.arch})`,
        `kvm          ${r.kvm.path}: ${r.kvm.present ? (r.kvm.readWrite ? 'present, read-write' : 'present, NOT read-write (add yourself to the kvm group)') : 'absent (VMs run with TCG, slower)'}`,
        `qemu         ${r.qemu.path ? `${r.qemu.path} (${r.qemu.version ?? 'version unknown'})` : 'not found'}`,
        `vmm          ${r.vmm.chosen ? `${r.vmm.chosen} at ${r.vmm.path}` : 'none'}: ${r.vmm.reason}`,
        `data dir     ${r.dataDir}`,
        `schema       v${r.schemaVersion}`,
        `free disk    ${r.freeDiskBytes === null ? 'unknown' : formatBytes(r.freeDiskBytes, { binary: true })}`,
        `user         ${r.runningAsRoot ? 'root (euid 0)' : 'not root'}`,
        ...(r.network ?? []).map((n) => `network      ${n}`),
        ...r.warnings.map((w) => `warning      ${w}`),
      ].join('\n'),
    );
    return r.vmm.chosen ? 0 : 7;
  },
};
