// bench:vm's okLinux boot lines (#11 item 6), imported by bench/vm.mjs:
//
// - `boot to prompt, app vs fastest raw QEMU: R`. The okLinux-shaped test kernel (virtio-mmio built in, no
//   initrd) from a bundle whose manifest says `virtioMmio`, a 9p root from its rootfs tarball and NAT, under
//   TCG: the app's default machine (microvm where the guest can keep time, see core/vmm/machine.ts). App:
//   `oklinux start <vm>` spawned as a child until "oklinux-init: ready" appears in console.log after the
//   supervisor's boot marker (polled every 5 ms). Raw: each candidate QEMU argv spawned directly until that
//   line appears on its stdout; the candidates are the app's own argv (`start --dry-run --json`) and the same
//   VM on the PC machine (`create --machine pc`); the fastest is the one with the lower median. One warm-up
//   round, then BENCH_BOOT_PAIRS rounds (default 5) of app, raw candidates, in alternating order. R = the
//   app's median / the fastest raw median. Each app run also shows when the supervisor and the VMM started and
//   when the console's first byte arrived: the app's fixed cost before the VMM runs.
// - `stop to stopped (s): S`: `oklinux stop <vm>` on the booted VM (the power button, oklinux-init's poweroff,
//   the VMM's exit), from spawning the CLI to its exit, median of the rounds (the default grace period).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { runCli } from '../test/helpers/cli.ts';
import { TEST_BUNDLE, processesMentioning, serveTestBundle, vmEnv } from '../test/helpers/vm.ts';
import { followBoot, nowSecs, procStarts, startApp } from './app-start.mjs';

const READY = 'oklinux-init: ready';
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (x, d = 2) => x.toFixed(d);

async function appBoot(env, home, vm) {
  const run = startApp(env, home, vm);
  let first;
  let procs;
  const secs = await followBoot(run, {
    timeoutSecs: 180,
    awaiting: `"${READY}"`,
    onBoot: (boot) => {
      if (boot.length > 0 && first === undefined) {
        first = nowSecs() - run.t0;
        procs = procStarts(home);
      }
      return boot.includes(READY);
    },
  });
  await new Promise((r) => (run.cli.exitCode !== null ? r() : run.cli.on('close', r)));
  const at = (what) => {
    const s = procs?.find((p) => p.cmd.includes(what))?.start;
    return s === undefined ? '?' : fmt(s - run.t0);
  };
  return {
    secs,
    detail:
      `supervisor started +${at('supervise')} s, VMM started +${at('qemu-system')} s, ` +
      `first console byte +${fmt(first)} s, CLI exited +${fmt(run.exitSecs ?? NaN)} s`,
  };
}

async function rawBoot(argv) {
  const qmp = argv[argv.indexOf('-qmp') + 1];
  const socket = qmp.slice('unix:'.length, qmp.indexOf(',server=')).replaceAll(',,', ',');
  fs.mkdirSync(path.dirname(socket), { recursive: true });
  fs.rmSync(socket, { force: true });
  const t0 = nowSecs();
  const q = spawn(argv[0], argv.slice(1), { cwd: path.dirname(socket), stdio: ['pipe', 'pipe', 'pipe'] });
  let text = '';
  let err = '';
  let first;
  const secs = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${READY}" from raw QEMU in 180 s\n${err}\n${text}`)), 180_000);
    q.stdout.setEncoding('utf8').on('data', (d) => {
      first ??= nowSecs() - t0;
      text += d;
      if (!text.includes(READY)) return;
      clearTimeout(timer);
      resolve(nowSecs() - t0);
    });
    q.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    q.on('error', reject);
    q.on('close', (code) => reject(new Error(`raw QEMU exited (${code}) first\n${err}\n${text}`)));
  }).finally(() => q.kill('SIGKILL'));
  await new Promise((r) => (q.exitCode !== null || q.signalCode !== null ? r() : q.on('close', r)));
  fs.rmSync(socket, { force: true });
  return { secs, detail: `first console byte +${fmt(first)} s` };
}

/** Returns { ratio, stop } (see the header). */
export async function benchOkBoot(cacheDir) {
  const pairs = Number(process.env.BENCH_BOOT_PAIRS ?? 5);
  const home = fs.mkdtempSync(path.join(cacheDir, 'ok-home-'));
  const env = { ...vmEnv(home), OKLINUX_USE_DIST: '1' };
  const cli = async (...args) => {
    const r = await runCli(args, { env });
    if (r.code !== 0) throw new Error(`oklinux ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const bundle = await serveTestBundle({ virtioMmio: true });
  try {
    await cli('catalog', 'add', bundle.manifestUrl);
    await cli('create', 'okb', '--image', TEST_BUNDLE, '--accel', 'tcg', '--memory', '512');
    await cli('create', 'okpc', '--image', TEST_BUNDLE, '--accel', 'tcg', '--memory', '512', '--machine', 'pc');
    await cli('pull', TEST_BUNDLE);
    // the first start fills the 9p roots from the tarball; the raw runs boot the same roots
    for (const vm of ['okb', 'okpc']) {
      await appBoot(env, home, vm);
      await cli('stop', vm, '--force');
    }
    const raws = {};
    for (const vm of ['okb', 'okpc']) {
      const argv = JSON.parse(await cli('start', vm, '--dry-run', '--json'));
      const label = argv.includes('microvm') ? 'raw microvm' : 'raw pc';
      raws[label] = argv;
      console.log(`${label} argv: ${JSON.stringify(argv)}`);
    }
    const times = { app: [], ...Object.fromEntries(Object.keys(raws).map((k) => [k, []])) };
    const stops = [];
    const order = ['app', ...Object.keys(raws)];
    for (let i = 0; i <= pairs; i++) {
      const label = i === 0 ? 'warm-up (not counted)' : `round ${i}`;
      for (const who of i % 2 ? order : [...order].reverse()) {
        let r;
        if (who === 'app') {
          r = await appBoot(env, home, 'okb');
          const t0 = nowSecs();
          await cli('stop', 'okb');
          const s = nowSecs() - t0;
          console.log(`${label} oklinux stop okb: ${fmt(s)} s`);
          if (i > 0) stops.push(s);
        } else r = await rawBoot(raws[who]);
        console.log(
          `${label} ${who === 'app' ? 'oklinux start okb' : who}: ${fmt(r.secs)} s to "${READY}" (${r.detail})`,
        );
        if (i > 0) times[who].push(r.secs);
      }
    }
    const meds = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
    const [fastest, rawMed] = Object.entries(meds)
      .filter(([k]) => k !== 'app')
      .reduce((a, b) => (b[1] < a[1] ? b : a));
    for (const [k, v] of Object.entries(meds)) console.log(`boot to prompt median ${k}: ${fmt(v)} s`);
    console.log(`fastest raw QEMU: ${fastest}`);
    return { ratio: meds.app / rawMed, stop: median(stops) };
  } finally {
    for (const p of processesMentioning(home)) process.kill(p.pid, 'SIGKILL');
    await bundle.close();
    fs.rmSync(home, { recursive: true, force: true });
  }
}
