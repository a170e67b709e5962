/**
 * Set-id bits in writable 9p exports.
 *
 * Shares use QEMU's security_model=none: a guest's chmod lands on the host file as it is. A
 * guest can therefore leave a set-user-ID (or set-group-ID) program in a writable share, which
 * another local user could then run with the rights of the app's user (root, when the app runs
 * as root). A `nosuid` mount inside the guest does not help: the host file is what others run.
 * A VM's own root under the data directory is out of reach (the data directory is 0700); a
 * `--root-dir` elsewhere gets a warning when others can reach it (`startWarnings`).
 *
 * Mitigation (Linux), for every writable share:
 * - `scrubTree` clears S_ISUID and S_ISGID from every regular file (before the VMM starts, inside
 *   `SetIdGuard.start`, and again after it ends).
 * - While the VM runs, its supervisor's `SetIdGuard` watches every folder (inotify, one watch
 *   per folder) and clears the bits as soon as an event names the file: within
 *   SETID_CLEAR_BOUND_MS. A new folder is watched first, then scanned, so nothing made in
 *   between is missed.
 * - A full rescan is the backstop (inotify silently drops events when its queue overflows):
 *   every max(10 s, 50 × the last scan's time), or every max(2 s, 10 × it) when some folder
 *   could not be watched (the inotify watch limit).
 * - A symlink is never followed: a file is opened O_PATH|O_NOFOLLOW, checked through that fd (a
 *   regular file whose real path is inside the share) and chmod-ed through /proc/self/fd/N,
 *   so a guest swapping in a symlink cannot make us chmod a host file elsewhere.
 * Device nodes are closed to all but their owner the same way (as root, QEMU carries out a
 * guest's mknod). Directory setgid (group inheritance) is left alone; it runs nothing.
 */
import fs from 'node:fs';
import path from 'node:path';

export const SETID_BITS = 0o6000;
/** A set-id bit a guest sets in a watched share is cleared within this time. */
export const SETID_CLEAR_BOUND_MS = 500;
const RESCAN_MIN_MS = 10_000;
const RESCAN_DEGRADED_MS = 2_000;
/**
 * The longest wait between backstop rescans, whatever the share's size (which a guest controls): a share of
 * 300k files scans in about 2 s, so a rescan at most every 30 s (10 s degraded) costs under 7 % (20 %) of a core.
 */
const RESCAN_MAX_MS = 30_000;
const RESCAN_DEGRADED_MAX_MS = 10_000;
/** Linux's O_PATH (not in fs.constants): an fd naming a file without opening it for I/O. */
const O_PATH = 0o10000000;

const inside = (root: string, p: string): boolean =>
  p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);

/**
 * What a guest can leave in a share for other users: a set-id regular file, or a device node
 * others may open (QEMU running as root carries out the guest's mknod).
 */
export function isHazard(st: fs.Stats): boolean {
  if (st.isFile()) return (st.mode & SETID_BITS) !== 0;
  return (st.isBlockDevice() || st.isCharacterDevice()) && (st.mode & 0o6077) !== 0;
}

/** The mode that defuses it: no set-id bits; a device node for its owner only. */
function safeMode(st: fs.Stats): number {
  return st.isFile() ? st.mode & 0o1777 & ~SETID_BITS : st.mode & 0o700;
}

/**
 * Defuse `file` if it is a hazard (`isHazard`) whose real path is inside `root` (itself a
 * real path): clear a regular file's set-id bits, close a device node to all but its owner.
 * Never follows a symlink, never opens a device. True when its mode was changed.
 */
export function defuse(root: string, file: string): boolean {
  const linux = process.platform === 'linux';
  let fd: number;
  try {
    if (!linux && !fs.lstatSync(file).isFile()) return false; // without O_PATH, opening a device would open it
    fd = fs.openSync(
      file,
      (linux ? O_PATH : fs.constants.O_RDONLY | fs.constants.O_NONBLOCK) | fs.constants.O_NOFOLLOW,
    );
  } catch {
    return false; // gone, or a symlink (non-Linux), or unreadable
  }
  try {
    const st = fs.fstatSync(fd);
    if (!isHazard(st)) return false;
    if (!linux) {
      if (!st.isFile()) return false;
      fs.fchmodSync(fd, safeMode(st));
      return true;
    }
    const handle = `/proc/self/fd/${fd}`;
    if (!inside(root, fs.readlinkSync(handle))) return false;
    fs.chmodSync(handle, safeMode(st));
    return true;
  } catch {
    return false; // e.g. EPERM: another user's file, whose bits the guest could not have set either
  } finally {
    fs.closeSync(fd);
  }
}

export interface ScrubStats {
  dirs: number;
  files: number;
  cleared: string[];
}

/** One folder: clear its set-id files; returns its subfolders. */
function scanDir(root: string, dir: string, stats: ScrubStats): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  stats.dirs++;
  const subdirs: string[] = [];
  for (const d of entries) {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) {
      subdirs.push(p);
      continue;
    }
    if (d.isSymbolicLink() || d.isFIFO() || d.isSocket()) continue; // (an unknown type is looked at)
    stats.files++;
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) subdirs.push(p);
    else if (isHazard(st) && defuse(root, p)) stats.cleared.push(p);
  }
  return subdirs;
}

/** Folders under `start` (inside `root`), depth first; `onDir` runs before a folder is read. */
function* walk(root: string, start: string, stats: ScrubStats, onDir?: (dir: string) => void): Generator<void> {
  const stack = [start];
  while (stack.length) {
    const dir = stack.pop()!;
    let real: string;
    try {
      real = fs.realpathSync.native(dir);
    } catch {
      continue;
    }
    if (!inside(root, real)) continue; // a folder swapped for a symlink: not followed out of the share
    onDir?.(dir);
    for (const sub of scanDir(root, dir, stats)) stack.push(sub); // (a spread overflows on huge folders)
    yield;
  }
}

/** Clear every set-id bit under `dir` (synchronously). */
export function scrubTree(dir: string): ScrubStats {
  const root = fs.realpathSync.native(dir);
  const stats: ScrubStats = { dirs: 0, files: 0, cleared: [] };
  for (const _ of walk(root, root, stats));
  return stats;
}

/** How long to wait before the next backstop rescan, after one that took `lastMs`. */
export function rescanInterval(lastMs: number, degraded: boolean): number {
  return degraded
    ? Math.min(RESCAN_DEGRADED_MAX_MS, Math.max(RESCAN_DEGRADED_MS, 10 * lastMs))
    : Math.min(RESCAN_MAX_MS, Math.max(RESCAN_MIN_MS, 50 * lastMs));
}

export interface SetIdGuardHooks {
  /** `file` was defused: its set-id bits cleared, or (a device node) closed to others. */
  cleared(file: string): void;
  /** The guard works in a degraded way (e.g. the inotify watch limit); for the logs. */
  problem(message: string): void;
}

/** Watches writable shares while a VM runs and clears set-id bits as they appear. */
export class SetIdGuard {
  /** Watched folders by path, with the inode watched (a folder removed and made again is a new one). */
  private readonly watchers = new Map<string, { w: fs.FSWatcher; ino: number }>();
  /** Watched folders by parent, so a subtree is unwatched in time proportional to its size. */
  private readonly children = new Map<string, Set<string>>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private degraded = false;
  private scanning = false;
  /** What the first full pass found (for logs and measurements). */
  readonly initial: ScrubStats = { dirs: 0, files: 0, cleared: [] };

  private constructor(
    private readonly roots: string[],
    private readonly hooks: SetIdGuardHooks,
  ) {}

  /** Watch and scrub every folder under `dirs`; when it returns, the guarantee holds. */
  static start(dirs: string[], hooks: SetIdGuardHooks): SetIdGuard {
    const guard = new SetIdGuard(
      dirs.map((d) => fs.realpathSync.native(d)),
      hooks,
    );
    const t0 = Date.now();
    for (const root of guard.roots) guard.cover(root, root, guard.initial);
    guard.schedule(Date.now() - t0);
    return guard;
  }

  get watched(): number {
    return this.watchers.size;
  }

  private cover(root: string, dir: string, stats: ScrubStats = { dirs: 0, files: 0, cleared: [] }): void {
    const before = stats.cleared.length;
    for (const _ of walk(root, dir, stats, (d) => this.watch(root, d)));
    for (const f of stats.cleared.slice(before)) this.hooks.cleared(f);
  }

  private watch(root: string, dir: string): void {
    if (this.closed) return;
    try {
      const ino = fs.lstatSync(dir).ino;
      const known = this.watchers.get(dir);
      if (known?.ino === ino) return;
      if (known) this.unwatch(dir);
      const w = fs.watch(dir, { persistent: false }, (event, name) => this.onEvent(root, dir, event, name));
      w.on('error', () => this.unwatch(dir));
      this.watchers.set(dir, { w, ino });
      const parent = path.dirname(dir);
      const siblings = this.children.get(parent) ?? new Set<string>();
      siblings.add(dir);
      this.children.set(parent, siblings);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      if (this.degraded) return;
      this.degraded = true;
      this.hooks.problem(
        `cannot watch ${dir} (${(e as NodeJS.ErrnoException).code ?? String(e)}); set-id bits in writable ` +
          `shares are cleared by a rescan every ${RESCAN_DEGRADED_MS / 1000} s or more instead of at once`,
      );
    }
  }

  private unwatch(dir: string): void {
    this.watchers.get(dir)?.w.close();
    this.watchers.delete(dir);
    this.children.get(path.dirname(dir))?.delete(dir);
    const kids = this.children.get(dir);
    this.children.delete(dir);
    for (const k of kids ?? []) this.unwatch(k);
  }

  private onEvent(root: string, dir: string, event: string, name: string | Buffer | null): void {
    if (this.closed) return;
    if (name === null) {
      this.rescanSoon();
      return;
    }
    const p = path.join(dir, name.toString());
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      if (this.watchers.has(p)) this.unwatch(p);
      return;
    }
    if (st.isDirectory()) {
      // made, moved or removed and made again (its inode number may be reused): watch it afresh
      if (event === 'rename' || this.watchers.get(p)?.ino !== st.ino) {
        if (this.watchers.has(p)) this.unwatch(p);
        this.cover(root, p);
      }
    } else if (isHazard(st) && defuse(root, p)) {
      this.hooks.cleared(p);
    }
  }

  private schedule(lastMs: number): void {
    if (this.closed) return;
    const every = rescanInterval(lastMs, this.degraded);
    this.timer = setTimeout(() => void this.rescan(), every);
    this.timer.unref();
  }

  private rescanSoon(): void {
    if (this.scanning || this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.rescan(), 0);
    this.timer.unref();
  }

  /** A full pass that yields to the event loop, so console traffic and events keep flowing. */
  private async rescan(): Promise<void> {
    if (this.scanning || this.closed) return;
    this.scanning = true;
    const t0 = Date.now();
    try {
      for (const root of this.roots) {
        const stats: ScrubStats = { dirs: 0, files: 0, cleared: [] };
        let n = 0;
        for (const _ of walk(root, root, stats, (d) => this.watch(root, d))) {
          if (this.closed) return;
          if (++n % 64 === 0) await new Promise((r) => setImmediate(r));
        }
        for (const f of stats.cleared) this.hooks.cleared(f);
      }
    } finally {
      this.scanning = false;
    }
    this.schedule(Date.now() - t0);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const { w } of this.watchers.values()) w.close();
    this.watchers.clear();
    this.children.clear();
  }
}

/** Whether users other than the owner can reach `p` (every folder on the way lets others through). */
export function reachableByOthers(p: string): boolean {
  let cur = path.resolve(p);
  for (;;) {
    try {
      if ((fs.statSync(cur).mode & 0o001) === 0) return false;
    } catch {
      return false;
    }
    const parent = path.dirname(cur);
    if (parent === cur) return true;
    cur = parent;
  }
}

/** The warning for running as root, or null. */
export function rootWarning(euid = process.geteuid?.() ?? -1): string | null {
  if (euid !== 0) return null;
  return (
    'okLinux runs as root (euid 0), so a guest can make root-owned set-user-ID programs in every writable ' +
    'share, which any local user could run. okLinux clears those bits as they appear, but run okLinux as a ' +
    'normal user.'
  );
}

/** Warnings to show when a VM starts: running as root, a root directory others can reach. */
export function startWarnings(o: {
  vm: string;
  rwShares: string[];
  rootDir: string | null;
  dataDir: string;
  euid?: number;
}): string[] {
  const out: string[] = [];
  const asRoot = rootWarning(o.euid);
  if (asRoot) {
    out.push(
      o.rwShares.length
        ? `The VM "${o.vm}" has writable shares (${o.rwShares.join(', ')}). ${asRoot}`
        : `${asRoot} The VM "${o.vm}" has no writable share now.`,
    );
  }
  const open = o.rwShares.filter((d) => reachableByOthers(d));
  if (open.length) {
    out.push(
      `Other users can reach the writable ${open.length === 1 ? 'share' : 'shares'} ${open.join(', ')} of the VM ` +
        `"${o.vm}". A guest can make set-user-ID programs there; okLinux clears their bits as they appear, but ` +
        'for a moment another user could run one as you. Share folders only you can open (chmod 700 a parent).',
    );
  }
  if (o.rootDir && !inside(path.resolve(o.dataDir), path.resolve(o.rootDir)) && reachableByOthers(o.rootDir)) {
    out.push(
      `The root directory ${o.rootDir} of the VM "${o.vm}" can be reached by other users, and its guest can make ` +
        'set-user-ID programs there. Keep it inside a folder only you can open (chmod 700 its parent).',
    );
  }
  return out;
}
