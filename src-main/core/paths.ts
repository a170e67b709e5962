/**
 * Where okLinux Desktop keeps its data. `OKLINUX_HOME` overrides everything (tests,
 * portable installs); otherwise the platform's convention (XDG on Linux).
 *
 * Layout inside the data directory (documented in the README):
 *   oklinux.db            SQLite state (WAL)
 *   store/sha256/<hex>    content-addressed artifacts (kernels, initrds, rootfs tarballs)
 *   downloads/            <id>.part files of downloads in progress
 *   vms/<name>/           per-VM: console.log (+ .1 rotation), root/ (9p root directory)
 *   run/<id>/             per-VM runtime: control and console sockets, share symlinks
 *   bin/                  installed VMMs (bldy)
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

export class DataPaths {
  constructor(readonly root: string) {}
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
  vmDir(name: string): string {
    return path.join(this.root, 'vms', name);
  }
  consoleLog(name: string): string {
    return path.join(this.vmDir(name), 'console.log');
  }
  rootDir(name: string): string {
    return path.join(this.vmDir(name), 'root');
  }
  /** Short, id-based, so unix socket paths stay under the 108-byte limit. */
  runDir(vmId: number): string {
    return path.join(this.root, 'run', String(vmId));
  }
}
