// npm run bench:net  (run through tsx: it imports the engine and the test fixtures)
//
// From one run, under one QEMU TCG guest (the okLinux-shaped test kernel and the bundle's busybox root,
// `--net nat`), for the same 64 MiB file:
// - `remote 9p read MB/s`: read from a remote 9p share (`9p://127.0.0.1:PORT/DIR`, diod on 127.0.0.1,
//   through the supervisor's relay), with the app's remote mount options;
// - `local 9p read MB/s`: read from a virtio-9p share with the app's defaults;
// - `remote/local 9p read ratio`;
// - `NAT download vs host`: the guest's busybox wget of the file from an HTTP server on 127.0.0.1 (as
//   10.0.2.2) against the host's curl of the same URL (throughput ratio).
// Each guest read runs after drop_caches and is timed in the guest with /proc/uptime (10 ms); every figure
// is the median of BENCH_ROUNDS (default 3) runs. MB is 10^6 bytes.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { Engine } from '../src-main/core/engine.ts';
import { runCli } from '../test/helpers/cli.ts';
import { startDiod } from '../test/helpers/diod.ts';
import { startTestServer } from '../test/helpers/http.ts';
import { ConsoleTap, TEST_BUNDLE, processesMentioning, serveTestBundle, vmEnv } from '../test/helpers/vm.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BYTES = 64 * 1024 * 1024;
const VM = 'benchnet';
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const work = fs.mkdtempSync('/tmp/oklinux-bench-net-');
// Linux's 9p client attaches first as "nobody": diod's export must be reachable by others
fs.chmodSync(work, 0o755);
const home = path.join(work, 'home');
const env = vmEnv(home);
const cli = async (...args) => {
  const r = await runCli(args, { env });
  if (r.code !== 0) throw new Error(`oklinux ${args.join(' ')}: ${r.stderr}`);
  return r;
};
const localDir = path.join(work, 'local');
const remoteDir = path.join(work, 'remote');
fs.mkdirSync(localDir);
fs.mkdirSync(remoteDir);
const data = Buffer.alloc(BYTES);
for (let i = 0; i < BYTES; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
fs.writeFileSync(path.join(localDir, 'f'), data);
fs.writeFileSync(path.join(remoteDir, 'f'), data);

let bundle, diod, http, engine, tap;
try {
  bundle = await serveTestBundle();
  diod = await startDiod(remoteDir);
  http = await startTestServer();
  http.route('/f', { body: data });
  const httpPort = Number(new URL(http.origin).port);
  await cli('catalog', 'add', bundle.manifestUrl);
  await cli('create', VM, '--image', TEST_BUNDLE, '--accel', 'tcg', '--memory', '512', '--net', 'nat');
  await cli('share', 'add', VM, localDir, '--tag', 'loc', '--ro');
  await cli('share', 'add', VM, `9p://127.0.0.1:${diod.port}${remoteDir}`, '--tag', 'rem', '--ro');
  engine = new Engine({ home, env });
  tap = new ConsoleTap(engine, VM);
  await engine.invoke('vms:start', { name: VM });
  await tap.attach();
  await tap.ready(180_000);
  await tap.waitFor(/oklinux-init: remote rem mounted on \/mnt\/rem/);

  /** Seconds the guest took for `cmd`, after dropping its caches (from /proc/uptime). */
  const timed = async (cmd) => {
    const out = await tap.run(
      `sync; echo 3 > /proc/sys/vm/drop_caches; read a _ < /proc/uptime; ${cmd}; read b _ < /proc/uptime; echo "took $a $b"`,
      /took \S+ \S+/,
      600_000,
    );
    const [, a, b] = /took (\S+) (\S+)/.exec(out);
    return Number(b) - Number(a);
  };
  const mbs = (s) => BYTES / 1e6 / s;
  const remote = [];
  const local = [];
  const wget = [];
  const curl = [];
  for (let r = 0; r < ROUNDS; r++) {
    remote.push(mbs(await timed('cat /mnt/rem/f > /dev/null')));
    local.push(mbs(await timed('cat /mnt/loc/f > /dev/null')));
    wget.push(mbs(await timed(`wget -q -O /dev/null http://10.0.2.2:${httpPort}/f`)));
    // async: the HTTP server runs in this process, so a blocking spawn would never be answered
    const { stdout } = await promisify(execFile)('curl', [
      '-sS',
      '--max-time',
      '120',
      '-o',
      '/dev/null',
      '-w',
      '%{time_total}',
      `${http.origin}/f`,
    ]);
    const c = { stdout };
    curl.push(mbs(Number(c.stdout)));
    console.error(
      `round ${r + 1}: remote ${remote.at(-1).toFixed(1)}, local ${local.at(-1).toFixed(1)}, wget ${wget.at(-1).toFixed(1)}, curl ${curl.at(-1).toFixed(1)} MB/s`,
    );
  }
  const R = median(remote);
  const L = median(local);
  console.log(`remote 9p read MB/s: ${R.toFixed(1)}`);
  console.log(`local 9p read MB/s: ${L.toFixed(1)}`);
  console.log(`remote/local 9p read ratio: ${(R / L).toFixed(2)}`);
  console.log(
    `NAT download vs host: ${(median(wget) / median(curl)).toFixed(3)} (guest wget ${median(wget).toFixed(1)} MB/s, host curl ${median(curl).toFixed(1)} MB/s)`,
  );
} finally {
  tap?.close();
  await engine?.invoke('vms:stop', { name: VM }).catch(() => undefined);
  await engine?.close();
  for (const p of processesMentioning(home)) process.kill(p.pid, 'SIGKILL');
  await diod?.stop();
  await http?.close();
  await bundle?.close();
  fs.rmSync(work, { recursive: true, force: true });
}
