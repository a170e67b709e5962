/**
 * Finding the host tools the engine drives: the VMM (bldy, crosvm or QEMU) and
 * their versions. Each backend has its own resolver: bldy is the configured
 * path, else the bldy installed in the data directory, else `crosvm` on PATH;
 * QEMU is `qemu-system-<arch>` on PATH. `chooseBackend` applies a VM's backend
 * and accel settings to them (see there for the `auto` rules).
 * A configured bldy path is used only while it passes `checkProgramFile` (owned
 * by this user or root, nobody else can change it), and then by its realpath.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { kvmProblem } from '@core/vmm/accel';
import { checkProgramFile } from '@core/program-check';
import { BACKEND_FACTS, qemuBinaryName } from '@core/vmm/facts';
import { netKind } from '@core/vmm/net';
import type { NetMode } from '@core/vmm/types';

const run = promisify(execFile);

/** Whether `p` is a regular file this user may execute. */
export function isExecutableFile(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

export function which(cmd: string, envPath = process.env.PATH ?? ''): string | null {
  for (const dir of envPath.split(path.delimiter)) {
    // a relative entry ('.', '') would find programs in whatever folder the app was started from
    if (path.isAbsolute(dir) && isExecutableFile(path.join(dir, cmd))) return path.join(dir, cmd);
  }
  return null;
}

export { qemuBinaryName };

/** First line of `<bin> --version`, or null if it does not run within 5 s. */
export async function toolVersion(bin: string): Promise<string | null> {
  try {
    const { stdout } = await run(bin, ['--version'], { timeout: 5000 });
    return stdout.split('\n')[0]?.trim() || null;
  } catch {
    return null;
  }
}

export interface VmmChoice {
  kind: 'bldy' | 'crosvm' | 'qemu' | null;
  path: string | null;
  reason: string;
  /** The bldy okLinux installed in the data directory (its digest is on record; see images/bldy-install.ts). */
  installed?: boolean;
}

export interface VmmLookup {
  /** The bldy path set in settings, if any. */
  configured: string | null;
  /** The data directory's bin/. */
  binDir: string;
  envPath?: string | undefined;
}

export const QEMU_INSTALL_HINT =
  'Debian/Ubuntu: "apt-get install qemu-system-x86"; Fedora: "dnf install qemu-system-x86"; macOS: "brew install qemu"';

/** The bldy backend's binary: the configured path, else the bldy installed by the app, else crosvm on PATH. */
export function resolveBldy(opts: VmmLookup): VmmChoice {
  const installed = path.join(opts.binDir, 'bldy');
  if (opts.configured) {
    try {
      const real = checkProgramFile(opts.configured, 'bldyPath');
      const kind = path.basename(opts.configured).includes('crosvm') ? 'crosvm' : 'bldy';
      // settings naming the app's own bin/bldy do not exempt it from its digest check
      const same = sameFile(real, installed);
      return { kind, path: real, reason: 'the bldy path set in settings', ...(same ? { installed: true } : {}) };
    } catch (e) {
      const problem = e instanceof Error ? e.message.replace(/\.$/, '') : String(e);
      return {
        kind: null,
        path: null,
        reason: `the configured bldy path is not used (${problem}); fix it with "oklinux config set bldyPath PATH"`,
      };
    }
  }
  if (isExecutableFile(installed))
    return { kind: 'bldy', path: installed, reason: 'bldy installed by okLinux Desktop', installed: true };
  const crosvm = which('crosvm', opts.envPath);
  if (crosvm) return { kind: 'crosvm', path: crosvm, reason: 'crosvm found on PATH' };
  return {
    kind: null,
    path: null,
    reason: 'bldy is not installed (set its path in settings, or "oklinux pull bldy" from a catalog that offers it)',
  };
}

function sameFile(a: string, b: string): boolean {
  try {
    const [x, y] = [fs.statSync(a), fs.statSync(b)];
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

/** The QEMU backend's binary: qemu-system-<arch> on PATH. */
export function resolveQemu(opts: { envPath?: string | undefined }): VmmChoice {
  const qemu = which(qemuBinaryName(), opts.envPath);
  if (qemu) return { kind: 'qemu', path: qemu, reason: `${qemuBinaryName()} found on PATH` };
  return { kind: null, path: null, reason: `${qemuBinaryName()} is not installed (${QEMU_INSTALL_HINT})` };
}

export interface BackendChoice extends VmmChoice {
  /** The backend that runs the VM (null: none can). */
  backend: 'bldy' | 'qemu' | null;
}

/**
 * Which backend runs a VM, and why. An explicit backend is resolved on its own
 * (a bldy never stands in for QEMU or the other way round). `auto` picks bldy
 * when one is available and the accelerator allows KVM (accel `kvm`, or `auto`
 * with a usable /dev/kvm: bldy runs only under KVM), and QEMU when accel is
 * `tcg`, KVM is unusable, or there is no bldy. A configured bldy path that is
 * broken is reported rather than silently replaced by QEMU. A VM whose network
 * needs user-mode networking (`nat`, `restricted`: bldy has none) gets QEMU, or
 * none when QEMU is missing (the reason says to install it or use `--net none`).
 */
export function chooseBackend(
  opts: VmmLookup & {
    backend: 'auto' | 'bldy' | 'qemu';
    accel: 'auto' | 'kvm' | 'tcg';
    /** Why /dev/kvm is unusable, or null when it is usable (see `kvmProblem`). */
    kvmProblem: string | null;
    /** The VM's network; `nat` and `restricted` need QEMU. Absent: any backend will do (doctor). */
    net?: NetMode;
  },
): BackendChoice {
  if (opts.backend === 'bldy') return { backend: 'bldy', ...resolveBldy(opts) };
  if (opts.backend === 'qemu') return { backend: 'qemu', ...resolveQemu(opts) };
  const qemu = resolveQemu(opts);
  if (opts.net && !BACKEND_FACTS.bldy.networking.includes(netKind(opts.net))) {
    const why = `network ${opts.net} needs user-mode networking, which bldy lacks`;
    if (qemu.kind) return { backend: 'qemu', ...qemu, reason: `${why}; ${qemu.reason}` };
    return {
      backend: null,
      kind: null,
      path: null,
      reason: `${why}, and ${qemu.reason}; or make the VM with --net none to run it without a network`,
    };
  }
  const bldy = resolveBldy(opts);
  const noKvm =
    opts.accel === 'tcg' ? 'accel is tcg' : opts.accel === 'auto' && opts.kvmProblem ? opts.kvmProblem : null;
  if (bldy.kind && !noKvm) return { backend: 'bldy', ...bldy };
  if (opts.configured && !bldy.kind && !noKvm) return { backend: null, ...bldy };
  if (qemu.kind) {
    const why = bldy.kind ? `bldy runs only under KVM and ${noKvm}` : `no bldy or crosvm`;
    return { backend: 'qemu', ...qemu, reason: `${why}; ${qemu.reason}` };
  }
  return {
    backend: null,
    kind: null,
    path: null,
    reason: bldy.kind
      ? `bldy runs only under KVM and ${noKvm}, and ${qemu.reason}`
      : `no VMM found: install QEMU (${QEMU_INSTALL_HINT}) or add a bldy entry to a catalog manifest and pull it`,
  };
}

/** Whether KVM is there and usable by this user (the same check `accel auto` makes). */
export async function kvmStatus(dev = '/dev/kvm'): Promise<{ present: boolean; readWrite: boolean; path: string }> {
  return { present: fs.existsSync(dev), readWrite: (await kvmProblem(dev)) === null, path: dev };
}

export async function freeDiskBytes(dir: string): Promise<number | null> {
  try {
    const s = await fs.promises.statfs(dir);
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
}
