/**
 * Which VMM runs a VM: the backend (see `chooseBackend` for the rules), its
 * binary, the accelerator, and the VMM binary's pinned digest when it is the
 * bldy the app installed. bldy runs only under KVM; QEMU takes the accel
 * setting. A dry run (`prepare: false`) works without the VMM installed (it
 * shows the bare command name) and never fails on the accelerator, but it does
 * refuse an installed bldy that changed, as a start would. bldy is refused for a VM
 * whose network needs user-mode networking (see vmm/net.ts).
 */
import type { EngineContext } from '@core/context';
import { OkError } from '@contract/errors';
import type { VmRow } from '@core/store';
import { chooseBackend } from '@core/host-tools';
import { BACKEND_FACTS } from '@core/vmm/facts';
import { checkPinned, type PinnedFile } from '@core/images/integrity';
import { kvmProblem, resolveAccel, type AccelChoice, type AccelSetting } from '@core/vmm/accel';
import type { VmmBackend } from '@core/vmm/types';
import { bldyNetProblem } from '@core/vmm/net';

const KVM_DEVICE = '/dev/kvm';

export interface LaunchTarget {
  backend: VmmBackend;
  bin: string;
  accel: AccelChoice;
  /** Why this backend. */
  reason: string;
  /** The VMM binary with its recorded digest (already checked), when it is the installed bldy. */
  pinned: PinnedFile[];
}

export async function launchTarget(
  ctx: EngineContext,
  vm: VmRow,
  opts: { backend?: VmmBackend; prepare: boolean },
): Promise<LaunchTarget> {
  const settings = ctx.store.settings.get();
  const accelSetting = vm.accel !== 'auto' ? vm.accel : settings.accel;
  const choice = chooseBackend({
    configured: settings.bldyPath,
    binDir: ctx.paths.bin,
    envPath: ctx.env.PATH,
    backend: opts.backend ?? (vm.backend !== 'auto' ? vm.backend : settings.backend),
    accel: accelSetting,
    kvmProblem: accelSetting === 'auto' ? await kvmProblem(KVM_DEVICE) : null,
    net: vm.net,
  });
  const backend = choice.backend;
  if (!backend) throw new OkError('VMM', `Cannot start "${vm.name}": ${choice.reason}.`);
  const netProblem = backend === 'bldy' ? bldyNetProblem(vm.name, vm.net) : null;
  if (netProblem) throw new OkError('UNSUPPORTED', `${netProblem}.`);
  if (opts.prepare && !choice.path) {
    throw new OkError(
      'VMM',
      backend === 'bldy'
        ? `Cannot start "${vm.name}": it asks for bldy, but ${choice.reason}. Or choose the QEMU backend.`
        : `Cannot start "${vm.name}": ${choice.reason}.`,
    );
  }
  const bin = choice.path ?? BACKEND_FACTS[backend].program;
  const pinned: PinnedFile[] = [];
  if (backend === 'bldy' && choice.installed && choice.path) pinned.push(installedBldy(ctx, choice.path));
  for (const pin of pinned) await checkPinned(pin);
  const accel = await chooseAccel(vm, backend, accelSetting, opts.prepare);
  return { backend, bin, accel, reason: choice.reason, pinned };
}

async function chooseAccel(
  vm: VmRow,
  backend: VmmBackend,
  setting: AccelSetting,
  prepare: boolean,
): Promise<AccelChoice> {
  if (!BACKEND_FACTS[backend].needsKvm) {
    return resolveAccel(setting, KVM_DEVICE).catch((e: unknown) => {
      if (prepare) throw e;
      return { accel: 'kvm' as const, reason: 'dry run' };
    });
  }
  const problem = setting === 'tcg' ? `"${vm.name}" is set to accel tcg` : await kvmProblem(KVM_DEVICE);
  if (problem && prepare) {
    throw new OkError(
      'UNSUPPORTED',
      `Cannot start "${vm.name}" with bldy: bldy runs only under KVM, but ${problem}. ` +
        'Choose the QEMU backend (backend auto picks it for accel tcg), or fix KVM.',
    );
  }
  return { accel: 'kvm', reason: problem ? 'dry run' : 'bldy runs under KVM' };
}

/** The bldy the app installed in bin/, pinned to the digest recorded when it was installed. */
function installedBldy(ctx: EngineContext, bin: string): PinnedFile {
  const record = ctx.store.vmms.get('bldy');
  const repair = 'Install it again with "oklinux pull bldy", or set a bldy path in settings.';
  if (!record) {
    throw new OkError(
      'CHECKSUM',
      `${bin} has no SHA-256 on record (okLinux Desktop did not install it), so it was not run. ${repair}`,
    );
  }
  return { what: 'bldy', path: bin, sha256: record.sha256, repair };
}
