/**
 * The data directory is private: its folders 0700, the database (with -wal and -shm) and the
 * logs 0600, whatever the umask; an older, looser one is tightened with one notice. Checked on
 * disk, through the real CLI and the real engine context.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { openContext } from '@core/context';
import { ConsoleLog } from '@core/vm/console-log';
import { OKLINUX_BIN } from '../helpers/cli';
import { tmpDir } from '../helpers/tmp';
import { NOBODY, requireRoot } from '../shares/unprivileged';

const t = tmpDir('oklinux-datadir-');
afterAll(() => t.cleanup());

const mode = (p: string): number => fs.statSync(p).mode & 0o7777;
const FOLDERS = ['vms', 'run', 'store', 'downloads', 'bin'];

/** The real CLI under a given umask (a shell sets it, as a user's session would). */
function cliWithUmask(umask: string, home: string, ...args: string[]) {
  const r = spawnSync('sh', ['-c', `umask ${umask}; exec "$0" "$@"`, process.execPath, OKLINUX_BIN, ...args], {
    env: { ...process.env, OKLINUX_HOME: home, OKLINUX_GITHUB_API: 'http://127.0.0.1:9' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('a fresh data directory', () => {
  it.each(['000', '022', '077'])('has 0700 folders and a 0600 database under umask %s', (umask) => {
    const home = path.join(t.dir, `fresh-${umask}`, 'deeper', 'home');
    const r = cliWithUmask(umask, home, 'ls');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(''); // nothing was tightened: it was made right
    expect(mode(home)).toBe(0o700);
    for (const f of FOLDERS) expect(mode(path.join(home, f)), f).toBe(0o700);
    expect(mode(path.join(home, 'oklinux.db'))).toBe(0o600);
  });

  it('keeps the database -wal and -shm 0600 while it is open', () => {
    const home = path.join(t.dir, 'open');
    const ctx = openContext({ home });
    try {
      ctx.store.events.append('test', null, { x: 1 }); // a write, so the WAL exists
      for (const f of ['oklinux.db', 'oklinux.db-wal', 'oklinux.db-shm']) {
        expect(mode(path.join(home, f)), f).toBe(0o600);
      }
      expect(ctx.notices).toEqual([]);
    } finally {
      ctx.store.close();
    }
  });

  it('writes console logs 0600, the rotated generation too', () => {
    const dir = path.join(t.dir, 'logs');
    fs.mkdirSync(dir);
    const file = path.join(dir, 'console.log');
    const log = new ConsoleLog(file, 16);
    log.write('0123456789');
    log.write('0123456789'); // over the cap: rotates
    log.close();
    expect(mode(file)).toBe(0o600);
    expect(mode(`${file}.1`)).toBe(0o600);
  });
});

describe('an existing data directory', () => {
  it('is tightened when it was 0755 with a 0644 database and logs, with one notice, and silently after', () => {
    const home = path.join(t.dir, 'old');
    openContext({ home }).store.close();
    // as an older okLinux (umask 022) left it
    fs.chmodSync(home, 0o755);
    for (const f of FOLDERS) fs.chmodSync(path.join(home, f), 0o755);
    fs.mkdirSync(path.join(home, 'vms', 'dev'), { recursive: true });
    fs.mkdirSync(path.join(home, 'run', '1'), { recursive: true });
    const files = ['oklinux.db', 'vms/dev/console.log', 'vms/dev/console.log.1', 'run/1/supervisor.log'];
    for (const f of files.slice(1)) fs.writeFileSync(path.join(home, f), 'secret\n');
    for (const f of files) fs.chmodSync(path.join(home, f), 0o644);

    const first = cliWithUmask('022', home, 'ls');
    expect(first.code, first.stderr).toBe(0);
    const notices = first.stderr.split('\n').filter(Boolean);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toContain(
      `okLinux tightened the permissions of ${home} (was 0755) so other users cannot read it`,
    );
    expect(notices[0]).toContain('5 folders: vms (was 0755)');
    expect(notices[0]).toContain('4 files: oklinux.db (was 0644)');
    expect(mode(home)).toBe(0o700);
    for (const f of FOLDERS) expect(mode(path.join(home, f)), f).toBe(0o700);
    for (const f of files) expect(mode(path.join(home, f)), f).toBe(0o600);

    const second = cliWithUmask('022', home, 'ls');
    expect(second.code).toBe(0);
    expect(second.stderr).toBe('');
  });

  it('names a loose file inside an otherwise private directory', () => {
    const home = path.join(t.dir, 'one-file');
    openContext({ home }).store.close();
    fs.chmodSync(path.join(home, 'oklinux.db'), 0o644);
    const ctx = openContext({ home });
    ctx.store.close();
    expect(ctx.notices).toEqual([
      `okLinux tightened permissions in ${home} so other users cannot read them: 1 file: oklinux.db (was 0644).`,
    ]);
    expect(mode(path.join(home, 'oklinux.db'))).toBe(0o600);
  });

  it("refuses a looser folder that is not okLinux's, leaving its mode alone (OKLINUX_HOME=/tmp)", () => {
    const shared = path.join(t.dir, 'shared');
    fs.mkdirSync(shared);
    fs.writeFileSync(path.join(shared, 'someone-elses.txt'), 'x');
    fs.chmodSync(shared, 0o1777);
    const r = cliWithUmask('022', shared, 'ls');
    expect(r.code).toBe(8);
    expect(r.stderr).toContain(`The data directory ${shared} cannot be used`);
    expect(r.stderr).toContain('OKLINUX_HOME');
    expect(mode(shared)).toBe(0o1777);
    expect(fs.existsSync(path.join(shared, 'oklinux.db'))).toBe(false);
  });

  it('refuses, as root, an empty folder another user made (0777), and a folder of it another user swapped in', () => {
    requireRoot('chown to nobody');
    const theirs = path.join(t.dir, 'theirs');
    fs.mkdirSync(theirs);
    fs.chownSync(theirs, NOBODY, NOBODY);
    fs.chmodSync(theirs, 0o777);
    const r = cliWithUmask('022', theirs, 'ls');
    expect(r.code).toBe(8);
    expect(r.stderr).toContain(`${theirs} belongs to uid ${NOBODY}, not to this user (uid 0)`);
    expect(mode(theirs)).toBe(0o777); // not chmod-ed into ours: its owner keeps control of it
    expect(fs.readdirSync(theirs)).toEqual([]);

    // a data dir of ours whose run/ another user replaced (while it was loose) is refused, not adopted
    const ours = path.join(t.dir, 'ours-swapped');
    openContext({ home: ours }).store.close();
    fs.rmSync(path.join(ours, 'run'), { recursive: true });
    fs.mkdirSync(path.join(ours, 'run'), { mode: 0o777 });
    fs.chownSync(path.join(ours, 'run'), NOBODY, NOBODY);
    const again = cliWithUmask('022', ours, 'ls');
    expect(again.code).toBe(8);
    expect(again.stderr).toContain(`${path.join(ours, 'run')} belongs to uid ${NOBODY}`);
  });
});
