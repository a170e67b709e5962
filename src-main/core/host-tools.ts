/**
 * Finding the host tools the engine drives: the VMM (bldy, crosvm or QEMU) and
 * their versions. Resolution order for the VMM: the configured path, the bldy
 * installed in the data directory, `crosvm` on PATH, then `qemu-system-<arch>`.
 * A configured path is used only while it passes `checkProgramFile` (owned by
 * this user or root, nobody else can change it), and then by its realpath.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { kvmProblem } from '@core/vmm/accel';
import { checkProgramFile } from '@core/program-check';

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
    if (dir && isExecutableFile(path.join(dir, cmd))) return path.join(dir, cmd);
  }
  return null;
}

export function qemuBinaryName(arch: string = process.arch): string {
  return `qemu-system-${arch === 'arm64' ? 'aarch64' : 'x86_64'}`;
}

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
}

export function resolveVmm(opts: { configured: string | null; binDir: string; envPath?: string }): VmmChoice {
  if (opts.configured) {
    try {
      const real = checkProgramFile(opts.configured, 'bldyPath');
      const kind = path.basename(opts.configured).includes('crosvm') ? 'crosvm' : 'bldy';
      return { kind, path: real, reason: 'the bldy path set in settings' };
    } catch (e) {
      const problem = e instanceof Error ? e.message.replace(/\.$/, '') : String(e);
      return {
        kind: null,
        path: null,
        reason: `the configured bldy path is not used (${problem}); fix it with "oklinux config set bldyPath PATH"`,
      };
    }
  }
  const installed = path.join(opts.binDir, 'bldy');
  if (isExecutableFile(installed))
    return { kind: 'bldy', path: installed, reason: 'bldy installed by okLinux Desktop' };
  const crosvm = which('crosvm', opts.envPath);
  if (crosvm) return { kind: 'crosvm', path: crosvm, reason: 'crosvm found on PATH' };
  const qemu = which(qemuBinaryName(), opts.envPath);
  if (qemu) return { kind: 'qemu', path: qemu, reason: `no bldy or crosvm; ${qemuBinaryName()} found on PATH` };
  return {
    kind: null,
    path: null,
    reason:
      `no VMM found: install QEMU (Debian/Ubuntu: "apt-get install qemu-system-x86"; Fedora: "dnf install ` +
      `qemu-system-x86"; macOS: "brew install qemu") or add a bldy entry to a catalog manifest and pull it`,
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
