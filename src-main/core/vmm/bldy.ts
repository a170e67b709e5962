/**
 * bldy (a crosvm fork with crosvm's command line): spec -> argv.
 *
 * Facts this relies on (crosvm src/crosvm/sys/linux/config.rs, rust-p9 src/server/mod.rs):
 * - `--shared-dir SRC:TAG[:key=value…]` is split on ':' with no escaping. Nothing else in it
 *   is special (',' and spaces are fine: the p9 options are ':'-separated too), so only a ':'
 *   in SRC needs a workaround: a symlink with a safe name in the VM's run directory.
 * - The p9 server opens its root with O_PATH|O_NOFOLLOW, so a root that is itself a symlink
 *   would be served as the link, not the directory. Sources are therefore resolved with
 *   realpath, and our own symlinks are passed as `<link>/.` (the link is then followed as
 *   an inner path component).
 * - crosvm's p9 has no read-only option: its only p9 option is `ascii_casefold`. A read-only
 *   share is enforced only by the guest mounting it `ro` (which a guest root user could
 *   remount read-write); QEMU enforces it on the host too.
 * - `uid`, `gid`, `uidmap`, `gidmap` configure the device's minijail sandbox and do nothing
 *   without it.
 *
 * - A root disk is `--block PATH,root[,ro]` (never the deprecated `--root`/`--rwroot`/`--rwdisk`); crosvm
 *   appends `root=/dev/vda rw|ro` to the command line itself. A PATH with ',' or '=' is double-quoted
 *   (crosvm's key-value syntax); one with '"' or '\\' is refused by validateVmSpec.
 *
 * Sandbox: bldy runs with `--disable-sandbox` unless a share asks for id mapping. The sandbox
 * jails each device in a new user namespace pivoted into /var/empty: it needs /var/empty and
 * unprivileged user namespaces (restricted by default on Ubuntu 23.10+), and by default it maps
 * only the host user, to uid 0, so the guest would see every shared file owned by root. Without
 * it the 9p server reports the real host uids, so the guest user with the host user's uid owns
 * its files, and writes are done with the host user's rights.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { OkError } from '@contract/errors';
import { bldyRootDiskParams, kernelParamGroups, validateVmSpec } from './spec';
import { bldyNetArgs, bldyNetProblem } from './net';
import type { VmSpec } from './types';

/** Where each share's directory is handed to bldy: tag -> SRC for `--shared-dir`. */
export interface BldyPrepared {
  sources: ReadonlyMap<string, string>;
}

/** Serial port 1 on stdout/stdin as the console; crosvm then adds `console=ttyS0` itself. */
export const BLDY_SERIAL = 'type=stdout,hardware=serial,num=1,console,stdin';

const SANDBOX_KEYS = new Set(['uid', 'gid', 'uidmap', 'gidmap']);
const ID_MAP_RE = /^\d+ \d+ \d+(, ?\d+ \d+ \d+)*$/;

function checkP9Option(tag: string, opt: string): string {
  const eq = opt.indexOf('=');
  const key = eq > 0 ? opt.slice(0, eq) : opt;
  const value = eq > 0 ? opt.slice(eq + 1) : '';
  const bad = (expected: string): never => {
    throw new OkError('INVALID_INPUT', `share "${tag}": p9 option "${opt}" is malformed; expected ${expected}`);
  };
  switch (key) {
    case 'ascii_casefold':
      if (value !== 'true' && value !== 'false') bad('ascii_casefold=true or ascii_casefold=false');
      break;
    case 'uid':
    case 'gid':
      if (!/^\d{1,10}$/.test(value) || Number(value) > 0xffffffff) bad(`${key}=<number>`);
      break;
    case 'uidmap':
    case 'gidmap':
      if (!ID_MAP_RE.test(value)) bad(`${key}=<inner> <outer> <count>[,<inner> <outer> <count>…]`);
      break;
    default:
      throw new OkError(
        'UNSUPPORTED',
        `share "${tag}": bldy's 9p does not support the option "${opt}"; the only p9 options are ascii_casefold, uid, gid, uidmap and gidmap`,
      );
  }
  return key;
}

/** The root share (if any), then the folder shares. */
function exported(spec: VmSpec): { tag: string; hostPath: string }[] {
  return [...(spec.rootShare ? [spec.rootShare] : []), ...spec.shares];
}

/** What bldy is given for a share linked under the run directory. */
function linkedSource(runDir: string, tag: string): string {
  return `${path.join(runDir, 'shares', tag)}/.`;
}

/**
 * The sources `prepareBldyShares` would return, computed without touching the disk (symlinks
 * in the host paths are not resolved): for dry runs that only show the command.
 */
export function planBldyShares(spec: VmSpec): BldyPrepared {
  validateVmSpec(spec, 'bldy');
  const entries = exported(spec).map(({ tag, hostPath }): [string, string] => [
    tag,
    hostPath.includes(':') ? linkedSource(spec.runDir, tag) : hostPath,
  ]);
  return { sources: new Map(entries) };
}

/**
 * Resolves each share's host directory (root share included) and, where the real path
 * contains ':', which crosvm cannot parse, links it as `<runDir>/shares/<tag>` (the directory
 * is recreated, dropping stale links). `runDir` must exist.
 */
export async function prepareBldyShares(spec: VmSpec): Promise<BldyPrepared> {
  validateVmSpec(spec, 'bldy');
  const linkDir = path.join(spec.runDir, 'shares');
  await fs.rm(linkDir, { recursive: true, force: true });
  const sources = new Map<string, string>();
  for (const { tag, hostPath } of exported(spec)) {
    let real: string;
    try {
      real = await fs.realpath(hostPath);
    } catch (e) {
      throw new OkError(
        'NOT_FOUND',
        `VM "${spec.name}": shared folder ${hostPath} (tag "${tag}") cannot be resolved (${(e as NodeJS.ErrnoException).code ?? String(e)}); does it still exist?`,
        { cause: e },
      );
    }
    if (!real.includes(':')) {
      sources.set(tag, real);
      continue;
    }
    if (linkDir.includes(':')) {
      throw new OkError(
        'INVALID_INPUT',
        `VM "${spec.name}": run directory ${spec.runDir} contains ":", so shares with ":" in their path cannot be linked; move the data directory`,
      );
    }
    await fs.mkdir(linkDir, { recursive: true });
    await fs.symlink(real, path.join(linkDir, tag), 'dir');
    sources.set(tag, linkedSource(spec.runDir, tag));
  }
  return { sources };
}

/**
 * The argv after the bldy binary for `spec` (pure). `prepared` comes from
 * `prepareBldyShares(spec)`. Throws INVALID_INPUT / UNSUPPORTED on a spec bldy cannot run.
 */
export function bldyArgv(spec: VmSpec, prepared: BldyPrepared): string[] {
  validateVmSpec(spec, 'bldy');
  if (spec.accel !== 'kvm') {
    throw new OkError(
      'UNSUPPORTED',
      `VM "${spec.name}": bldy runs only with KVM, but accel is "${spec.accel}"; choose the QEMU backend for software emulation`,
    );
  }
  const netProblem = spec.net ? bldyNetProblem(spec.name, spec.net.mode) : null;
  if (netProblem) throw new OkError('UNSUPPORTED', `${netProblem}.`);
  if (spec.net?.guestForwards?.length)
    throw new OkError(
      'UNSUPPORTED',
      `VM "${spec.name}": bldy cannot relay remote shares (the relay is a QEMU user-mode networking forward); use the QEMU backend`,
    );
  const source = (tag: string): string => {
    const src = prepared.sources.get(tag);
    if (src === undefined)
      throw new OkError(
        'INTERNAL',
        `VM "${spec.name}": share "${tag}" was not prepared; call prepareBldyShares(spec) first`,
      );
    if (src.includes(':'))
      throw new OkError('INTERNAL', `VM "${spec.name}": prepared source for share "${tag}" still contains ":": ${src}`);
    return src;
  };

  let sandbox = false;
  const argv = ['run', '-m', String(spec.memoryMiB), '-c', String(spec.cpus)];
  if (spec.initrdPath !== undefined) argv.push('-i', spec.initrdPath);
  const added = spec.rootDisk ? `console=ttyS0 ${bldyRootDiskParams(spec.rootDisk.readOnly)}` : 'console=ttyS0';
  for (const group of kernelParamGroups(spec, 'bldy', added)) argv.push('-p', group);
  argv.push('-s', spec.controlSocket, '--serial', BLDY_SERIAL);
  if (spec.rootDisk) argv.push('--block', bldyBlockValue(spec.rootDisk.path, spec.rootDisk.readOnly));
  if (spec.rootShare) argv.push('--shared-dir', `${source(spec.rootShare.tag)}:${spec.rootShare.tag}:type=p9`);
  for (const share of spec.shares) {
    const opts = share.p9Options ?? [];
    for (const opt of opts) if (SANDBOX_KEYS.has(checkP9Option(share.tag, opt))) sandbox = true;
    argv.push('--shared-dir', [source(share.tag), share.tag, 'type=p9', ...opts].join(':'));
  }
  argv.push(...bldyNetArgs(spec.net));
  if (!sandbox) argv.push('--disable-sandbox');
  argv.push(spec.kernelPath);
  return argv;
}

/** The `--block` value for a root disk: `PATH,root[,ro]`, PATH double-quoted when it has ',' or '='. */
export function bldyBlockValue(file: string, readOnly: boolean): string {
  const p = /[,=]/.test(file) ? `"${file}"` : file;
  return `${p},root${readOnly ? ',ro' : ''}`;
}

/**
 * Commands that stop a bldy VM, each an argv after the binary: first press the power button
 * (the guest shuts down cleanly), and if the VM is still running after a grace period, stop
 * it at once.
 */
export function bldyStopArgv(socket: string): [powerbtn: string[], stop: string[]] {
  return [
    ['powerbtn', socket],
    ['stop', socket],
  ];
}
