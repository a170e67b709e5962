/**
 * Where okLinux Desktop keeps its data. `OKLINUX_HOME` overrides everything (tests,
 * portable installs); otherwise the platform's convention (XDG on Linux).
 *
 * Layout inside the data directory (documented in the README):
 *   oklinux.db            SQLite state (WAL)
 *   store/sha256/<hex>    content-addressed artifacts (kernels, initrds, rootfs tarballs)
 *   downloads/            <id>.part files of downloads in progress
 *   vms/<name>/           per-VM: console.log (+ .1 rotation), root/ (9p root directory)
 *   run/<id>/             per-VM runtime: launch.json, supervisor.log, share symlinks, and the
 *                         sockets when their paths fit (see `socketDir`)
 *   bin/                  installed VMMs (bldy)
 *
 * Invariant: the data directory and the folders above are 0700, the database and the logs
 * 0600 (see datadir.ts). Every unix socket path is at most SOCKET_PATH_MAX bytes: a longer
 * one would be cut short silently by the kernel's sockaddr_un.
 */
import os from 'node:os';
import path from 'node:path';

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  if (env.OKLINUX_HOME) return path.resolve(env.OKLINUX_HOME);
  const home = os.homedir();
  switch (platform) {
    case 'darwin':
      return path.join(home, 'Library', 'Application Support', 'okLinux');
    case 'win32':
      return path.join(env.LOCALAPPDATA ?? env.APPDATA ?? path.join(home, 'AppData', 'Local'), 'okLinux');
    default: {
      const xdg = env.XDG_DATA_HOME && path.isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : null;
      return path.join(xdg ?? path.join(home, '.local', 'share'), 'oklinux');
    }
  }
}

/** The longest unix socket path, in bytes, without its NUL (sun_path is 108 bytes on Linux, 104 elsewhere). */
export const SOCKET_PATH_MAX = process.platform === 'linux' ? 107 : 103;
export const SOCKET_NAMES = ['console.sock', 'qmp.sock', 'control.sock', 'relay.sock'] as const;
export type SocketName = (typeof SOCKET_NAMES)[number];

/**
 * The per-user directory for sockets whose path under the data directory would be too long:
 * `/tmp/oklinux-<euid>`. It is a fixed name, so every process (CLI, app, supervisor) finds the
 * same sockets; another user may have created it first, so it is checked before use
 * (`ensureSocketDir` in run-dir.ts): a real directory, ours, mode 0700.
 */
export function shortSocketBase(tmp = '/tmp', euid = process.geteuid?.() ?? 0): string {
  return path.join(tmp, `oklinux-${euid}`);
}

export class DataPaths {
  constructor(
    readonly root: string,
    /** Where sockets go when `run/<id>/` is too deep; tests point it at a temporary directory. */
    readonly socketBase: string = shortSocketBase(),
  ) {}
  get db(): string {
    return path.join(this.root, 'oklinux.db');
  }
  get store(): string {
    return path.join(this.root, 'store');
  }
  get downloads(): string {
    return path.join(this.root, 'downloads');
  }
  get bin(): string {
    return path.join(this.root, 'bin');
  }
  get vms(): string {
    return path.join(this.root, 'vms');
  }
  get run(): string {
    return path.join(this.root, 'run');
  }
  vmDir(name: string): string {
    return path.join(this.vms, name);
  }
  consoleLog(name: string): string {
    return path.join(this.vmDir(name), 'console.log');
  }
  rootDir(name: string): string {
    return path.join(this.vmDir(name), 'root');
  }
  /** The VM's own ext4 root disk (a copy of a bundle's or a user's image, or made from its 9p root). */
  rootDisk(name: string): string {
    return path.join(this.vmDir(name), 'root.img');
  }
  /** Id-based, so it stays short: launch.json, supervisor.log, share symlinks (and usually the sockets). */
  runDir(vmId: number): string {
    return path.join(this.run, String(vmId));
  }
  supervisorLog(vmId: number): string {
    return path.join(this.runDir(vmId), 'supervisor.log');
  }
  /**
   * Where a VM's sockets live: `run/<id>/` when every socket path there fits in
   * SOCKET_PATH_MAX bytes, else `<socketBase>/<hash of the data dir>-<id>/`. The one
   * place socket paths are decided.
   */
  socketDir(vmId: number): string {
    const inRun = this.runDir(vmId);
    if (SOCKET_NAMES.every((n) => Buffer.byteLength(path.join(inRun, n)) <= SOCKET_PATH_MAX)) return inRun;
    // node:crypto loads only here (it costs a CLI call about 4 ms): most data dirs' socket paths fit
    const tag = process
      .getBuiltinModule('node:crypto')
      .createHash('sha256')
      .update(this.root)
      .digest('hex')
      .slice(0, 12);
    return path.join(this.socketBase, `${tag}-${vmId}`);
  }
  socket(vmId: number, name: SocketName): string {
    return path.join(this.socketDir(vmId), name);
  }
}
