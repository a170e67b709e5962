/**
 * A hostile guest against another local user: under QEMU TCG, a guest (9p root, security_model
 * none, the app running as root as in CI) makes set-user-ID copies of programs in its root and
 * in a writable share. On the host, `nobody` cannot get euid 0 from them: the root's copy is
 * unreachable (the data directory is 0700) and the share's copy has lost S_ISUID/S_ISGID
 * within SETID_CLEAR_BOUND_MS of the guest's command finishing. Also: the data directory's
 * files while a VM runs are private, and start and doctor warn about running as root.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '@core/engine';
import { SETID_CLEAR_BOUND_MS } from '@core/shares/suid';
import { runCli } from '../helpers/cli';
import { tmpDir } from '../helpers/tmp';
import { ConsoleTap, processesMentioning, vmEnv } from '../helpers/vm';
import { startRootlessWorld, type RootlessWorld } from '../helpers/rootless';

const t = tmpDir('oklinux-setuid-');
const home = path.join(t.dir, 'home');
const share = path.join(t.dir, 'share');
let world: RootlessWorld;
let env: NodeJS.ProcessEnv;
const cli = (...args: string[]) => runCli(args, { env });
const mode = (p: string): number => fs.statSync(p).mode & 0o7777;

/**
 * Run a program as nobody; its exit status and output. setpriv keeps root's capabilities until
 * its own execve (so it could reach into a 0700 folder): a shell running as nobody does the exec.
 */
function asNobody(file: string, ...args: string[]) {
  const argv = ['--reuid=65534', '--regid=65534', '--clear-groups', '/bin/sh', '-c', 'exec "$0" "$@"', file, ...args];
  const r = spawnSync('setpriv', argv, {
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr };
}

/** Poll until `p` has no set-id bit, at most `bound` ms; returns how long it took. */
async function setIdGoneWithin(p: string, bound: number): Promise<number> {
  const t0 = performance.now();
  while (mode(p) & 0o6000) {
    if (performance.now() - t0 > bound) {
      throw new Error(`${p} still has mode ${mode(p).toString(8)} ${bound} ms after the guest finished`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  return performance.now() - t0;
}

beforeAll(async () => {
  expect(process.getuid?.(), 'this test needs root (as CI): the guest makes root-owned set-id files').toBe(0);
  world = await startRootlessWorld(path.join(t.dir, 'world'));
  env = { ...vmEnv(home), OKLINUX_GITHUB_API: world.api, OKLINUX_DEFAULT_MANIFEST: world.manifestUrl };
  // Everything on the way is open to other users, as a home folder often is: only the
  // data directory's own mode may keep nobody out.
  fs.chmodSync(t.dir, 0o755);
  fs.mkdirSync(share, { mode: 0o755 });
  fs.chmodSync(share, 0o755);
  // a host program the guest will mark set-user-ID (root-owned, like the files a root VMM writes)
  fs.copyFileSync('/usr/bin/id', path.join(share, 'id-copy'));
  fs.chmodSync(path.join(share, 'id-copy'), 0o755);
  expect(asNobody(path.join(share, 'id-copy'), '-u').stdout).toBe('65534');
});

afterAll(async () => {
  for (const p of processesMentioning(home)) process.kill(p.pid, 'SIGKILL');
  await world?.close();
  t.cleanup();
});

describe('set-id files made by a guest', () => {
  it('start warns that okLinux runs as root, naming the writable share', async () => {
    expect((await cli('create', 'suid', '--image', 'oklinux', '--accel', 'tcg', '--memory', '512')).code).toBe(0);
    expect((await cli('share', 'add', 'suid', share, '--tag', 'rw')).code).toBe(0);
    // left set-id while no VM watched (a supervisor killed with its VM): cleared before the VM runs
    const left = path.join(share, 'left-over');
    fs.copyFileSync('/bin/true', left);
    fs.chmodSync(left, 0o4755);
    const start = await cli('start', 'suid');
    expect(start.code, start.stderr).toBe(0);
    expect(mode(left)).toBe(0o755);
    expect(start.stderr).toContain(`oklinux: warning: The VM "suid" has writable shares (${share}).`);
    expect(start.stderr).toContain('okLinux runs as root (euid 0)');
    const doctor = JSON.parse((await cli('doctor', '--json')).stdout);
    expect(doctor.runningAsRoot).toBe(true);
    expect(doctor.warnings.join('\n')).toContain('okLinux runs as root (euid 0)');
  });

  it("keeps the running VM's files private: data dir 0700, database and logs 0600", async () => {
    const vm = JSON.parse((await cli('ls', '--json')).stdout)[0];
    expect(vm.state).toBe('running');
    expect(mode(home)).toBe(0o700);
    for (const d of ['vms', 'run', 'store', 'downloads', 'bin']) expect(mode(path.join(home, d)), d).toBe(0o700);
    const run = fs.readdirSync(path.join(home, 'run'));
    expect(run).toHaveLength(1);
    for (const f of [
      'oklinux.db',
      'oklinux.db-wal',
      'oklinux.db-shm',
      'vms/suid/console.log',
      `run/${run[0]}/supervisor.log`,
    ]) {
      expect(mode(path.join(home, f)), f).toBe(0o600);
    }
    const r = asNobody('/bin/cat', path.join(home, 'vms', 'suid', 'console.log'));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Permission denied/);
  });

  it('nobody gets no root from them: the root copy is unreachable, the share copies lose S_ISUID', async () => {
    const engine = new Engine({ home, env });
    const tap = new ConsoleTap(engine, 'suid');
    try {
      await tap.attach();
      await tap.ready();
      await tap.waitFor(/oklinux-init: mounted rw on \/mnt\/rw/);
      await tap.run(
        'cp /bin/busybox /suid-x && chmod 4755 /suid-x && chmod 4755 /mnt/rw/id-copy && ' +
          'cp /bin/busybox /mnt/rw/x && chmod 4755 /mnt/rw/x; echo __done_""1',
        /__done_1/,
        60_000,
      );
      // the share's copies: cleared within the documented bound of the guest's chmod
      for (const f of ['id-copy', 'x']) {
        expect(await setIdGoneWithin(path.join(share, f), SETID_CLEAR_BOUND_MS)).toBeLessThan(SETID_CLEAR_BOUND_MS);
      }
      const id = asNobody(path.join(share, 'id-copy'), '-u');
      expect(id.status, id.stderr).toBe(0);
      expect(id.stdout).toBe('65534'); // with S_ISUID kept, a root-owned id would say 0
      // the root's copy: the guest's set-user-ID bit is there, but nobody cannot get to it
      const rootCopy = path.join(home, 'vms', 'suid', 'root', 'suid-x');
      expect(mode(rootCopy) & 0o4000).toBe(0o4000);
      const denied = asNobody(rootCopy, 'id', '-u');
      expect(denied.status).not.toBe(0);
      expect(denied.stderr).toMatch(/Permission denied/);

      // a nested folder made at run time is watched too
      await tap.run(
        'mkdir -p /mnt/rw/a/b && cp /bin/busybox /mnt/rw/a/b/y && chmod 6755 /mnt/rw/a/b/y; echo __done_""2',
        /__done_2/,
        60_000,
      );
      await setIdGoneWithin(path.join(share, 'a', 'b', 'y'), SETID_CLEAR_BOUND_MS);
      expect(mode(path.join(share, 'a', 'b', 'y'))).toBe(0o755);
    } finally {
      tap.close();
      await engine.close();
    }
    const stop = await cli('stop', 'suid');
    expect(stop.code, stop.stderr).toBe(0);
    const log = fs.readFileSync(
      path.join(home, 'run', fs.readdirSync(path.join(home, 'run'))[0]!, 'supervisor.log'),
      'utf8',
    );
    expect(log).toContain(`cleared the set-id bits of ${path.join(share, 'id-copy')}`);
  });
});
