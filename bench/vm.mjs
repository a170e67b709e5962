// npm run bench:vm  (run through tsx: it imports the engine's mount options and the test fixtures)
//
// Three figures, each measured in this run, under QEMU TCG with the Debian kernel and the busybox
// test initramfs (test/fixtures/guest.ts):
//
// 1. `9p speed-up over msize=8192`: one guest (oklinux.run= script) mounts a host folder over virtio-9p
//    with the app's default options (mountOptions('qemu', false)), then with msize=8192 (same other
//    options), then with every msize {65536, 131072, 524288} x cache {none, mmap, loose}. For each it
//    writes 64 MiB (dd bs=1M conv=fsync from /dev/zero) and, after drop_caches, reads it back. The
//    guest times each dd with the kernel's monotonic clock ("now at N nsecs" in /proc/timer_list, read
//    with shell built-ins, so no process is spawned inside the timed interval). Every configuration
//    runs BENCH_ROUNDS times (default 5), round-robin; each figure is the median over rounds.
//    Speed-up = min(write, read) of default / msize=8192.
// 2. `9p default vs best of sweep`: throughput = geometric mean of read and write MiB/s; the default's
//    over the best configuration of the sweep.
// 3. `launch ratio app/raw`: from spawning the command to the guest's first console line. The guest's
//    first console line is the first complete line with a letter or digit that the guest's kernel or
//    init writes to the serial console, i.e. the first one after the firmware's hand-off ("Booting from
//    ROM.." of SeaBIOS, which runs before the kernel that -kernel loaded); escape sequences are ignored.
//    The VM boots its bundle's own command line (`console=ttyS0 quiet …`), so in practice it is
//    "oklinux-init: ready". App: `oklinux start <vm>` spawned as a child, the line seen in
//    <OKLINUX_HOME>/vms/<vm>/console.log after the supervisor's boot marker (polled every 5 ms). Raw: the
//    argv of `oklinux start <vm> --dry-run --json` spawned directly, the line seen on QEMU's stdout. One
//    warm-up pair, then BENCH_LAUNCH_PAIRS pairs (default 7), alternating which goes first; the ratio is
//    the median of the per-pair ratios. Each run also shows when the firmware's first line appeared and,
//    for the app, when the supervisor and the VMM processes started (/proc/<pid>/stat, 10 ms ticks) and
//    when the CLI exited: that is where the app's extra time goes.
//
// 4. `boot to prompt, app vs fastest raw QEMU` and `stop to stopped (s)`: the okLinux-shaped kernel on the
//    app's default machine (bench/vm-boot.mjs says how).
//
// BENCH_ONLY=boot runs only 4; BENCH_ONLY=launch only 3.
//
// Working files live under .cache/bench/ (ignored by git) and are removed at the end.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mountOptions } from '../src-main/core/shares/mount.ts';
import { buildInitramfs, kernelPath } from '../test/fixtures/guest.ts';
import { Guest, runArg } from '../test/fixtures/qemu.ts';
import { REPO as REPO_ROOT, runCli } from '../test/helpers/cli.ts';
import { TEST_BUNDLE, processesMentioning, serveTestBundle, vmEnv } from '../test/helpers/vm.ts';
import { followBoot, nowSecs, procStarts, startApp } from './app-start.mjs';
import { benchOkBoot } from './vm-boot.mjs';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CACHE = path.join(REPO, '.cache', 'bench');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PAIRS = Number(process.env.BENCH_LAUNCH_PAIRS ?? 7);
const FILE_MIB = 64;
const VM = 'bench';

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (x, digits = 2) => x.toFixed(digits);

// ---------------------------------------------------------------------------------------------
// 9p throughput

/** Mount options split into the part every configuration shares and its msize and cache. */
function splitOptions(options) {
  const parts = options.split(',');
  const get = (key) => parts.find((p) => p.startsWith(`${key}=`))?.slice(key.length + 1);
  const msize = get('msize');
  const cache = get('cache');
  if (!msize || !cache) throw new Error(`expected msize= and cache= in the default mount options "${options}"`);
  const base = parts.filter((p) => !p.startsWith('msize=') && !p.startsWith('cache=')).join(',');
  return { base, msize: Number(msize), cache };
}

/** The guest script: mounts the share with each configuration in turn and times write and read. */
function guestScript(base, configs) {
  const list = configs.map((c) => `${c.msize}:${c.cache}`).join(' ');
  return `
now() { { read -r _; read -r _; read -r _ _ T _; } </proc/timer_list; }
mkdir -p /mnt/b
r=1
while [ $r -le ${ROUNDS} ]; do
i=0
for c in ${list}; do
mount -t 9p -o ${base},msize=\${c%:*},cache=\${c#*:} bench /mnt/b || { echo "BENCH-FAIL mount $c"; exit 1; }
m=$(sed -n 's/^bench \\/mnt\\/b 9p .*msize=\\([0-9]*\\).*/\\1/p' /proc/mounts)
rm -f /mnt/b/f; sync; echo 3 >/proc/sys/vm/drop_caches
now; a=$T
dd if=/dev/zero of=/mnt/b/f bs=1M count=${FILE_MIB} conv=fsync 2>/dev/null || { echo "BENCH-FAIL write $c"; exit 1; }
now; b=$T
echo 3 >/proc/sys/vm/drop_caches
now; d=$T
dd if=/mnt/b/f of=/dev/null bs=1M 2>/dev/null || { echo "BENCH-FAIL read $c"; exit 1; }
now; e=$T
s=$(wc -c </mnt/b/f)
rm -f /mnt/b/f; umount /mnt/b
echo "BENCH $r $i \${m:-none} $((b-a)) $((e-d)) $s"
i=$((i+1))
done
r=$((r+1))
done
`;
}

async function benchShares() {
  const dflt = mountOptions('qemu', false);
  const { base, msize, cache } = splitOptions(dflt);
  const configs = [
    { label: `default (${dflt})`, msize, cache },
    { label: `msize=8192,cache=${cache}`, msize: 8192, cache },
  ];
  for (const m of [65536, 131072, 524288])
    for (const c of ['none', 'mmap', 'loose']) configs.push({ label: `msize=${m},cache=${c}`, msize: m, cache: c });

  const share = fs.mkdtempSync(path.join(CACHE, 'vm-share-'));
  const guest = new Guest({
    kernel: kernelPath(),
    initrd: buildInitramfs(),
    append: `quiet ${runArg(guestScript(base, configs))}`,
    shares: [{ tag: 'bench', path: share }],
    memMiB: 512,
  });
  const results = configs.map(() => ({ write: [], read: [] }));
  try {
    let from = 0;
    for (let n = 0; n < ROUNDS * configs.length; n++) {
      const m = await guest.waitFor(/^BENCH(-FAIL)? .*\n/m, { from, timeoutMs: 180_000 });
      from += m.index + m[0].length;
      const f = m[0].trim().split(' ');
      if (f[0] === 'BENCH-FAIL') throw new Error(`the guest says: ${m[0].trim()}\n${guest.describe()}`);
      const [round, i, effMsize, writeNs, readNs, size] = f.slice(1).map((x) => (x === 'none' ? NaN : Number(x)));
      if (size !== FILE_MIB << 20) throw new Error(`the guest wrote ${size} bytes, not ${FILE_MIB << 20}`);
      const w = FILE_MIB / (writeNs / 1e9);
      const r = FILE_MIB / (readNs / 1e9);
      results[i].write.push(w);
      results[i].read.push(r);
      results[i].effMsize = Number.isNaN(effMsize) ? 'not listed: the kernel default' : effMsize;
      console.log(
        `9p round ${round} ${configs[i].label} (guest msize ${results[i].effMsize}): ` +
          `write ${fmt(w, 0)} MiB/s, read ${fmt(r, 0)} MiB/s`,
      );
    }
    await guest.waitFor(/oklinux-init: run exit 0/, { from, timeoutMs: 60_000 });
  } finally {
    guest.kill();
    await guest.exited;
    fs.rmSync(share, { recursive: true, force: true });
  }

  const summary = configs.map((c, i) => {
    const write = median(results[i].write);
    const read = median(results[i].read);
    return { ...c, write, read, throughput: Math.sqrt(write * read) };
  });
  for (const s of summary)
    console.log(
      `9p median ${s.label}: write ${fmt(s.write, 0)}, read ${fmt(s.read, 0)}, geomean ${fmt(s.throughput, 0)} MiB/s`,
    );
  const [def, slow, ...sweep] = summary;
  const best = sweep.reduce((a, b) => (b.throughput > a.throughput ? b : a));
  console.log(`9p best of sweep: ${best.label}`);
  return {
    speedup: Math.min(def.write / slow.write, def.read / slow.read),
    vsBest: def.throughput / best.throughput,
  };
}

// ---------------------------------------------------------------------------------------------
// Launch time

// eslint-disable-next-line no-control-regex
const ESCAPES = /\x1b(\[[0-?]*[ -/]*[@-~]|[@-~])/g;
/** SeaBIOS's last words before it jumps to the kernel that -kernel loaded. */
const FIRMWARE_HANDOFF = 'Booting from ROM..';

/** The first complete console line with a letter or digit in it (escape sequences and \r dropped), or undefined. */
function firstLine(text) {
  const lines = text.split('\n');
  lines.pop(); // not complete yet
  return lines.map((l) => l.replace(ESCAPES, '').replace(/\r/g, '').trim()).find((l) => /[A-Za-z0-9]/.test(l));
}

/**
 * Follows a boot's console text from its first byte: when the firmware's first line appeared, and when the
 * guest's first line did (the first complete non-blank line after the firmware's hand-off to the kernel).
 */
class BootWatch {
  text = '';
  firmware;
  guest;
  constructor(t0) {
    this.t0 = t0;
  }

  feed(text) {
    this.text += text;
    const t = nowSecs() - this.t0;
    if (!this.firmware) {
      const line = firstLine(this.text);
      if (line) this.firmware = { secs: t, line };
    }
    const handoff = this.text.indexOf(FIRMWARE_HANDOFF);
    if (!this.guest && handoff >= 0) {
      const line = firstLine(this.text.slice(handoff + FIRMWARE_HANDOFF.length));
      if (line) this.guest = { secs: t, line };
    }
    return this.guest !== undefined;
  }
}

function waitExit(child) {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
}

async function appRun(env, home) {
  const run = startApp(env, home, VM);
  const watch = new BootWatch(run.t0);
  let procs;
  let seen = 0;
  await followBoot(run, {
    timeoutSecs: 120,
    awaiting: 'guest console line',
    context: () => `\n${watch.text}`,
    onBoot: (boot) => {
      const done = boot.length > seen && watch.feed(boot.slice(seen));
      seen = boot.length;
      // the VMM has printed, so it and the supervisor are alive: note when they started
      if (watch.firmware) procs ??= procStarts(home);
      return done;
    },
  });
  const at = (what) => {
    const start = procs.find((p) => p.cmd.includes(what))?.start;
    return start === undefined ? '?' : fmt(start - run.t0);
  };
  if ((await waitExit(run.cli)) !== 0) throw new Error(`oklinux start ${VM} failed:\n${run.out}`);
  const stop = await runCli(['stop', VM, '--force'], { env });
  if (stop.code !== 0) throw new Error(`oklinux stop ${VM} --force failed:\n${stop.stderr}${stop.stdout}`);
  return {
    ...watch.guest,
    detail:
      `supervisor started +${at('__supervise')} s, VMM started +${at('qemu-system')} s, ` +
      `firmware's first line +${fmt(watch.firmware.secs)} s, CLI exited +${fmt(run.exitSecs)} s`,
  };
}

async function rawRun(argv) {
  const qmp = argv[argv.indexOf('-qmp') + 1];
  const socket = qmp.slice('unix:'.length, qmp.indexOf(',server=')).replaceAll(',,', ',');
  fs.mkdirSync(path.dirname(socket), { recursive: true });
  const t0 = nowSecs();
  const qemu = spawn(argv[0], argv.slice(1), { cwd: path.dirname(socket), stdio: ['pipe', 'pipe', 'pipe'] });
  const watch = new BootWatch(t0);
  let err = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no guest console line from raw QEMU in 120 s\n${err}`)), 120_000);
    qemu.stdout.setEncoding('utf8').on('data', (d) => {
      if (!watch.feed(d)) return;
      clearTimeout(timer);
      resolve();
    });
    qemu.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    qemu.on('error', reject);
    qemu.on('close', (code) => reject(new Error(`raw QEMU exited (${code}) first\n${err}\n${watch.text}`)));
  }).finally(() => qemu.kill('SIGKILL'));
  await waitExit(qemu);
  fs.rmSync(socket, { force: true });
  return { ...watch.guest, detail: `firmware's first line +${fmt(watch.firmware.secs)} s` };
}

async function benchLaunch() {
  const home = fs.mkdtempSync(path.join(CACHE, 'vm-home-'));
  // The app side runs the bundled CLI and supervisor, as a packaged app does (`npm run build` first).
  const build = spawnSync('npm', ['run', 'build'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  if (build.status !== 0) throw new Error('npm run build failed');
  const env = { ...vmEnv(home), OKLINUX_USE_DIST: '1' };
  const cli = async (...args) => {
    const r = await runCli(args, { env });
    if (r.code !== 0) throw new Error(`oklinux ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const bundle = await serveTestBundle({ kernel: 'debian' });
  try {
    await cli('catalog', 'add', bundle.manifestUrl);
    await cli('create', VM, '--image', TEST_BUNDLE, '--accel', 'tcg', '--memory', '512');
    await cli('pull', TEST_BUNDLE);
    const argv = JSON.parse(await cli('start', VM, '--dry-run', '--json'));
    console.log(`raw argv: ${JSON.stringify(argv)}`);

    const run = async (who, label) => {
      const r = who === 'app' ? await appRun(env, home) : await rawRun(argv);
      const name = who === 'app' ? `oklinux start ${VM}` : 'raw QEMU argv    ';
      console.log(`${label} ${name} ${fmt(r.secs)} s to "${r.line}" (${r.detail})`);
      return r.secs;
    };
    await run('app', 'warm-up (not counted)');
    await run('raw', 'warm-up (not counted)');
    const ratios = [];
    for (let i = 0; i < PAIRS; i++) {
      const t = {};
      for (const who of i % 2 === 0 ? ['app', 'raw'] : ['raw', 'app']) t[who] = await run(who, `pair ${i + 1}`);
      ratios.push(t.app / t.raw);
      console.log(`pair ${i + 1} ratio app/raw ${fmt(t.app / t.raw)}`);
    }
    return median(ratios);
  } finally {
    for (const p of processesMentioning(home)) process.kill(p.pid, 'SIGKILL');
    await bundle.close();
    fs.rmSync(home, { recursive: true, force: true });
  }
}

fs.mkdirSync(CACHE, { recursive: true });
if (process.env.BENCH_ONLY === 'boot') {
  // only the okLinux boot lines (4.), on the bundled CLI and supervisor as in 3.
  if (spawnSync('npm', ['run', 'build'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] }).status !== 0)
    throw new Error('npm run build failed');
  const okBoot = await benchOkBoot(CACHE);
  console.log(`boot to prompt, app vs fastest raw QEMU: ${fmt(okBoot.ratio)}`);
  console.log(`stop to stopped (s): ${fmt(okBoot.stop)}`);
  process.exit(0);
}
if (process.env.BENCH_ONLY === 'launch') {
  console.log(`launch ratio app/raw: ${fmt(await benchLaunch())}`);
  process.exit(0);
}
const shares = await benchShares();
const launch = await benchLaunch();
const okBoot = await benchOkBoot(CACHE);
const goal = (ok, what) => `${what}: ${ok ? 'met' : 'MISSED'}`;
console.log(
  `goals: ${goal(shares.speedup >= 10, 'speed-up >= 10')}; ${goal(shares.vsBest >= 0.9, 'default/best >= 0.9')}; ` +
    `${goal(launch <= 1.05, 'launch ratio <= 1.05')}; ${goal(okBoot.ratio <= 1.05, 'boot to prompt ratio <= 1.05')}`,
);
console.log(`9p speed-up over msize=8192: ${fmt(shares.speedup, 1)}x`);
console.log(`9p default vs best of sweep: ${fmt(shares.vsBest)}`);
console.log(`launch ratio app/raw: ${fmt(launch)}`);
console.log(`boot to prompt, app vs fastest raw QEMU: ${fmt(okBoot.ratio)}`);
console.log(`stop to stopped (s): ${fmt(okBoot.stop)}`);
