/**
 * Launch plans are authenticated. The supervisor entry (`oklinux __supervise
 * <plan>`, or the app binary with `--oklinux-supervise <plan>`) runs the binary a
 * plan names, so it must not run just any JSON file: that would undo Electron's
 * RunAsNode fuse and let whoever can write a plan run code as this user.
 *
 * Invariants:
 * - The key is 32 random bytes in `<data>/supervise.key`: a regular file (never
 *   through a symlink), owned by this user, mode 0600. It is created on first
 *   use under a temporary name and linked into place, so no reader ever sees a
 *   partial key, and two racing creators agree on one. It never appears in argv
 *   or the environment.
 * - A plan file is `{"v":1,"plan":"<plan JSON>","mac":"<hex>"}`, the MAC being
 *   HMAC-SHA256(key, "oklinux-launch-plan/1\n" + plan JSON) over the exact bytes
 *   of the `plan` string. It is written whole (temp file + rename), mode 0600.
 * - The supervisor accepts a plan only if its real path is inside the real
 *   `<data>/run/`, with the data directory worked out the way the app does
 *   (`OKLINUX_HOME`, else the platform default; never from the plan's own path),
 *   and its MAC verifies (constant-time compare) under that directory's key.
 *   It checks before doing anything else, and a refused plan runs nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import type * as Crypto from 'node:crypto';
import { OkError } from '@contract/errors';
import { defaultDataDir } from '@core/paths';
import type { LaunchPlan } from './supervisor';

/** node:crypto, loaded on first use: a CLI call that signs or checks no plan (`oklinux ls`) does not pay for it. */
const crypto = (): typeof Crypto => process.getBuiltinModule('node:crypto');

export const SUPERVISE_KEY_FILE = 'supervise.key';
const KEY_BYTES = 32;
const DOMAIN = 'oklinux-launch-plan/1\n';
const MAX_PLAN_BYTES = 1 << 20;

/** Read the key through a descriptor (no symlinks), refusing one others could read or replace. */
function readKey(file: string): Buffer {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const st = fs.fstatSync(fd);
    const uid = process.geteuid?.() ?? st.uid;
    if (!st.isFile() || st.uid !== uid || (st.mode & 0o077) !== 0 || st.size !== KEY_BYTES) {
      throw new OkError(
        'DATA_DIR',
        `${file} is not a private ${KEY_BYTES}-byte key file of this user (mode 0600); delete it, and it is made again.`,
      );
    }
    const key = Buffer.alloc(KEY_BYTES);
    if (fs.readSync(fd, key, 0, KEY_BYTES, 0) !== KEY_BYTES) throw new OkError('DATA_DIR', `${file} is truncated.`);
    return key;
  } finally {
    fs.closeSync(fd);
  }
}

/** The data directory's supervise key; made on first use when `create`. */
export function superviseKey(dataDir: string, opts: { create: boolean }): Buffer {
  const file = path.join(dataDir, SUPERVISE_KEY_FILE);
  try {
    return readKey(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || !opts.create) throw e;
  }
  const tmp = `${file}.${process.pid}-${crypto().randomBytes(6).toString('hex')}.tmp`;
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  try {
    fs.writeSync(fd, crypto().randomBytes(KEY_BYTES));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(tmp, file); // atomic, and fails if another process made the key first: then theirs is used
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  return readKey(file);
}

const mac = (key: Buffer, planJson: string): Buffer =>
  crypto().createHmac('sha256', key).update(DOMAIN).update(planJson, 'utf8').digest();

/** Write `plan` to `file` with its MAC under the data directory's key (made if missing). */
export function writeSignedPlan(file: string, plan: LaunchPlan, dataDir: string): void {
  const json = JSON.stringify(plan);
  const body = JSON.stringify({
    v: 1,
    plan: json,
    mac: mac(superviseKey(dataDir, { create: true }), json).toString('hex'),
  });
  const tmp = `${file}.tmp`;
  fs.rmSync(tmp, { force: true });
  fs.writeFileSync(tmp, body, { mode: 0o600, flag: 'wx' });
  fs.renameSync(tmp, file);
}

function refuse(file: string, why: string): never {
  throw new OkError('INVALID_INPUT', `Refused the launch plan ${file}: ${why}. Nothing was run.`);
}

const within = (dir: string, p: string): boolean => {
  const rel = path.relative(dir, p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
};

/**
 * The plan in `file`, if it is a plan this data directory's engine wrote: inside
 * `<data>/run/` (real paths) and carrying a valid MAC. Throws otherwise.
 */
export function loadSignedPlan(file: string, env: NodeJS.ProcessEnv = process.env): LaunchPlan {
  const dataDir = defaultDataDir(env);
  let runDir: string;
  let real: string;
  try {
    runDir = fs.realpathSync(path.join(dataDir, 'run'));
    real = fs.realpathSync(file);
  } catch (e) {
    refuse(file, `it or ${path.join(dataDir, 'run')} cannot be resolved (${(e as NodeJS.ErrnoException).code})`);
  }
  if (!within(runDir, real)) {
    refuse(
      file,
      `it is not inside the data directory's ${runDir}${real !== path.resolve(file) ? ` (it leads to ${real})` : ''}`,
    );
  }
  let text: string;
  const fd = fs.openSync(real, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.size > MAX_PLAN_BYTES) refuse(file, 'it is not a plan file');
    text = fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
  let outer: { plan?: unknown; mac?: unknown };
  try {
    outer = JSON.parse(text) as typeof outer;
  } catch {
    refuse(file, 'it is not JSON');
  }
  if (typeof outer.plan !== 'string' || typeof outer.mac !== 'string' || !/^[0-9a-f]{64}$/.test(outer.mac)) {
    refuse(file, 'it carries no MAC (it was not written by okLinux Desktop)');
  }
  let key: Buffer;
  try {
    key = superviseKey(dataDir, { create: false });
  } catch (e) {
    refuse(file, `the key ${path.join(dataDir, SUPERVISE_KEY_FILE)} cannot be used (${(e as Error).message})`);
  }
  const expected = mac(key, outer.plan);
  if (!crypto().timingSafeEqual(expected, Buffer.from(outer.mac, 'hex'))) {
    refuse(
      file,
      `its MAC does not match the key of ${dataDir} (it was changed, or written for another data directory)`,
    );
  }
  const plan = JSON.parse(outer.plan) as LaunchPlan;
  if (typeof plan.bin !== 'string' || !Array.isArray(plan.args) || !plan.args.every((a) => typeof a === 'string')) {
    refuse(file, 'it has no valid bin and args');
  }
  return plan;
}
