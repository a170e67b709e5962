/**
 * The set-id scrubber on real files: every S_ISUID/S_ISGID under a writable share is cleared,
 * symlinks are never followed out of it, and while a guard runs a new set-id file (in a new,
 * nested or renamed folder too) is cleared within the documented bound. The VM end to end is in
 * test/vm/setuid.test.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  SETID_CLEAR_BOUND_MS,
  SetIdGuard,
  reachableByOthers,
  rescanInterval,
  scrubTree,
  startWarnings,
} from '@core/shares/suid';
import { tmpDir } from '../helpers/tmp';

const t = tmpDir('oklinux-suid-');
afterAll(() => t.cleanup());

const mode = (p: string): number => fs.statSync(p).mode & 0o7777;
let n = 0;
function share(): string {
  const dir = path.join(t.dir, `share-${++n}`);
  fs.mkdirSync(dir);
  return dir;
}
function program(p: string, m: number): string {
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.copyFileSync('/bin/true', p);
  fs.chmodSync(p, m);
  return p;
}

/** Poll until `p` has no set-id bit; returns the time it took, or throws after `bound` ms. */
async function clearedWithin(p: string, bound: number): Promise<number> {
  const t0 = performance.now();
  while (mode(p) & 0o6000) {
    if (performance.now() - t0 > bound) throw new Error(`${p} still has mode ${mode(p).toString(8)} after ${bound} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
  return performance.now() - t0;
}

describe('scrubTree', () => {
  it('clears set-user-ID and set-group-ID on every regular file, keeping the other bits', () => {
    const dir = share();
    const a = program(path.join(dir, 'a'), 0o4755);
    const b = program(path.join(dir, 'x', 'y', 'z', 'b'), 0o2750);
    const c = program(path.join(dir, 'x', 'c'), 0o6711);
    const plain = program(path.join(dir, 'plain'), 0o755);
    fs.mkdirSync(path.join(dir, 'group-dir'));
    fs.chmodSync(path.join(dir, 'group-dir'), 0o2775); // setgid folder: group inheritance, left alone
    const r = scrubTree(dir);
    expect(r.cleared.sort()).toEqual([a, b, c].sort());
    expect([mode(a), mode(b), mode(c), mode(plain)]).toEqual([0o755, 0o750, 0o711, 0o755]);
    expect(mode(path.join(dir, 'group-dir'))).toBe(0o2775);
  });

  it("closes device nodes to all but their owner (QEMU as root carries out a guest's mknod)", () => {
    const dir = share();
    const node = path.join(dir, 'disk');
    expect(spawnSync('mknod', ['-m', '0666', node, 'c', '1', '3']).status).toBe(0); // /dev/null's numbers
    expect(scrubTree(dir).cleared).toEqual([node]);
    expect(fs.statSync(node).isCharacterDevice()).toBe(true);
    expect(mode(node)).toBe(0o600);
  });

  it('never follows a symlink out of the share, to a file or a folder', () => {
    const outside = path.join(t.dir, 'outside');
    const victim = program(path.join(outside, 'passwd'), 0o4755);
    const dir = share();
    fs.symlinkSync(victim, path.join(dir, 'file-link'));
    fs.symlinkSync(outside, path.join(dir, 'dir-link'));
    const r = scrubTree(dir);
    expect(r.cleared).toEqual([]);
    expect(mode(victim)).toBe(0o4755);
  });
});

describe('SetIdGuard', () => {
  let guard: SetIdGuard | null = null;
  afterEach(() => guard?.close());
  const start = (dir: string, cleared: string[] = []) =>
    (guard = SetIdGuard.start([dir], {
      cleared: (f) => cleared.push(f),
      problem: (m) => cleared.push(`problem: ${m}`),
    }));

  it('clears what is there when it starts, then each new set-id file within the bound', async () => {
    const dir = share();
    const old = program(path.join(dir, 'old'), 0o4755);
    const cleared: string[] = [];
    start(dir, cleared);
    expect(mode(old)).toBe(0o755);
    const f = program(path.join(dir, 'new'), 0o755);
    fs.chmodSync(f, 0o4755);
    expect(await clearedWithin(f, SETID_CLEAR_BOUND_MS)).toBeLessThan(SETID_CLEAR_BOUND_MS);
    const g = program(path.join(dir, 'new-sgid'), 0o2755); // created with the bit
    await clearedWithin(g, SETID_CLEAR_BOUND_MS);
    expect(cleared).toEqual([old, f, g]);
  });

  it('closes a device node made while it runs', async () => {
    const dir = share();
    start(dir);
    const node = path.join(dir, 'made-later');
    expect(spawnSync('mknod', ['-m', '0666', node, 'b', '7', '0']).status).toBe(0); // a loop device
    const t0 = performance.now();
    while (mode(node) & 0o077) {
      if (performance.now() - t0 > SETID_CLEAR_BOUND_MS) throw new Error(`${node} still ${mode(node).toString(8)}`);
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(mode(node)).toBe(0o600);
  });

  it('covers folders made, nested and renamed while it runs', async () => {
    const dir = share();
    start(dir);
    const deep = program(path.join(dir, 'n1', 'n2', 'n3', 'deep'), 0o4755); // mkdir -p, then the file at once
    await clearedWithin(deep, SETID_CLEAR_BOUND_MS);
    fs.mkdirSync(path.join(dir, 'before'));
    await new Promise((r) => setTimeout(r, 20));
    fs.renameSync(path.join(dir, 'before'), path.join(dir, 'after'));
    const moved = program(path.join(dir, 'after', 'moved'), 0o755);
    fs.chmodSync(moved, 0o4755);
    await clearedWithin(moved, SETID_CLEAR_BOUND_MS);
    // a watched folder removed and made again under the same name, before the guard hears of it
    fs.rmSync(path.join(dir, 'after'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'after'));
    await new Promise((r) => setTimeout(r, 20));
    const again = program(path.join(dir, 'after', 'again'), 0o755);
    fs.chmodSync(again, 0o4755);
    await clearedWithin(again, SETID_CLEAR_BOUND_MS);
    // a tree moved in from outside the share, holding set-id files already
    program(path.join(t.dir, `staging-${n}`, 'sub', 'inner'), 0o4755);
    fs.renameSync(path.join(t.dir, `staging-${n}`), path.join(dir, 'moved-in'));
    await clearedWithin(path.join(dir, 'moved-in', 'sub', 'inner'), SETID_CLEAR_BOUND_MS);
  });

  it('does not chmod through a symlink planted in the share', async () => {
    const victim = program(path.join(t.dir, `victim-${n}`), 0o4755);
    const dir = share();
    start(dir);
    fs.symlinkSync(victim, path.join(dir, 'planted'));
    const probe = program(path.join(dir, 'probe'), 0o4755); // an event after the symlink's
    await clearedWithin(probe, SETID_CLEAR_BOUND_MS);
    expect(mode(victim)).toBe(0o4755);
  });
});

describe('start warnings', () => {
  it('warns when running as root, naming the writable shares', () => {
    const [w] = startWarnings({ vm: 'dev', rwShares: ['/a', '/b'], rootDir: null, dataDir: '/d', euid: 0 });
    expect(w).toContain('The VM "dev" has writable shares (/a, /b)');
    expect(w).toContain('okLinux runs as root (euid 0)');
    expect(startWarnings({ vm: 'dev', rwShares: ['/a'], rootDir: null, dataDir: '/d', euid: 1000 })).toEqual([]);
  });

  it('warns about a root directory outside the data directory that other users can reach', () => {
    const open = path.join(t.dir, 'open-root');
    fs.mkdirSync(open);
    fs.chmodSync(t.dir, 0o755);
    fs.chmodSync(open, 0o755);
    expect(reachableByOthers(open)).toBe(true);
    const [w] = startWarnings({ vm: 'dev', rwShares: [], rootDir: open, dataDir: '/d', euid: 1000 });
    expect(w).toContain(`The root directory ${open} of the VM "dev" can be reached by other users`);
    fs.chmodSync(t.dir, 0o700);
    expect(reachableByOthers(open)).toBe(false);
    expect(startWarnings({ vm: 'dev', rwShares: [], rootDir: open, dataDir: '/d', euid: 1000 })).toEqual([]);
    // a managed root inside the data directory is protected by the directory's 0700
    expect(startWarnings({ vm: 'dev', rwShares: [], rootDir: '/d/vms/dev/root', dataDir: '/d', euid: 1000 })).toEqual(
      [],
    );
  });

  it('warns about a writable share that other users can reach, and not once it is closed to them', () => {
    const share = path.join(t.dir, 'open-share');
    fs.mkdirSync(share);
    fs.chmodSync(t.dir, 0o755);
    fs.chmodSync(share, 0o755);
    const [w] = startWarnings({ vm: 'dev', rwShares: [share], rootDir: null, dataDir: '/d', euid: 1000 });
    expect(w).toContain(`Other users can reach the writable share ${share} of the VM "dev"`);
    expect(w).toContain('chmod 700 a parent');
    fs.chmodSync(t.dir, 0o700);
    expect(startWarnings({ vm: 'dev', rwShares: [share], rootDir: null, dataDir: '/d', euid: 1000 })).toEqual([]);
  });
});

describe('backstop rescans', () => {
  it('come at most every 30 s (10 s degraded) however long a scan of a guest-grown share takes', () => {
    expect(rescanInterval(5, false)).toBe(10_000);
    expect(rescanInterval(2_400, false)).toBe(30_000); // 300k files: 50 x 2.4 s would be 120 s
    expect(rescanInterval(5, true)).toBe(2_000);
    expect(rescanInterval(2_400, true)).toBe(10_000);
  });
});
