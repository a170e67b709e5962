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
// Then, to show where the remote path's time goes (issue #12's tuning):
// - `remote 9p read without the relay MB/s`: the same read with the guest mounting diod itself at
//   10.0.2.2:PORT (slirp's ordinary outbound TCP to the host's loopback), same options: slirp's cost alone;
// - `relay host-side 9p read MB/s`: a host 9p client (test/remote/ninep.ts, one read of msize in flight,
//   as the guest's cat does) reading the file through the relay client run as QEMU's guestfwd runs it and the
//   supervisor's relay, against the same client straight to diod: the relay's own cost, no guest.
// Each guest read runs after drop_caches and is timed in the guest with /proc/uptime (10 ms); the guest's
// reads are interleaved round by round (the machine may be shared: its load average is printed) and every
// figure is the median of BENCH_ROUNDS (default 3) runs. MB is 10^6 bytes.
import { execFile, spawn } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import { promisify } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { Engine, relayClientArgv } from '../src-main/core/engine.ts';
import { Relay, TcpTransport, remoteMountOptions } from '../src-main/core/remote/index.ts';
import { runCli } from '../test/helpers/cli.ts';
import { startDiod } from '../test/helpers/diod.ts';
import { startTestServer } from '../test/helpers/http.ts';
import { NineP } from '../test/remote/ninep.ts';
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

/**
 * MB/s of a host 9p client reading `dir`/f (one read of the negotiated msize in flight) over a TCP
 * connection to 127.0.0.1:`port`, and the msize the server gave.
 */
async function hostRead(port, dir, msize) {
  const c = net.connect(port, '127.0.0.1');
  c.setNoDelay(true);
  await new Promise((resolve, reject) => {
    c.once('connect', resolve);
    c.once('error', reject);
  });
  try {
    const p = new NineP(c);
    const v = await p.version(msize);
    await p.attach(1, dir, process.getuid());
    await p.walk(1, 2, ['f']);
    const t0 = process.hrtime.bigint();
    const n = await p.readAll(2, v.msize - 24, () => undefined);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (n !== BYTES) throw new Error(`host 9p read: ${n} bytes, wanted ${BYTES}`);
    return { mbs: BYTES / 1e6 / s, msize: v.msize };
  } finally {
    c.destroy();
  }
}

/** The relay as a VM uses it, with QEMU's guestfwd played by a listener that runs the relay client per connection. */
async function hostRelay(diodPort) {
  const socket = path.join(work, 'relay.sock');
  const relay = await Relay.listen(socket, [{ tag: 'rem', transport: new TcpTransport('127.0.0.1', diodPort) }]);
  const [cmd, ...args] = relayClientArgv(path.resolve('resources'));
  const kids = [];
  const fwd = net.createServer({ pauseOnConnect: true }, (conn) => {
    kids.push(spawn(cmd, [...args, socket, 'rem'], { stdio: [conn, conn, conn] }));
    conn.destroy(); // the child has its own copy of the descriptor, as QEMU's child has
  });
  await new Promise((resolve) => fwd.listen(0, '127.0.0.1', resolve));
  return {
    port: fwd.address().port,
    close: async () => {
      fwd.close();
      for (const k of kids) k.kill();
      await relay.close();
    },
  };
}

let bundle, diod, http, engine, tap, hostFwd;
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
  // the same share mounted by the guest itself from diod at the slirp host address: no guestfwd, no relay
  const remoteUrl = `9p://127.0.0.1:${diod.port}${remoteDir}`;
  await tap.run(
    `mkdir -p /mnt/direct && mount -t 9p -o ${remoteMountOptions(remoteUrl, diod.port, true)} 10.0.2.2 /mnt/direct && echo direct-ok`,
    /direct-ok/,
    60_000,
  );

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
  const direct = [];
  const local = [];
  const wget = [];
  const curl = [];
  for (let r = 0; r < ROUNDS; r++) {
    remote.push(mbs(await timed('cat /mnt/rem/f > /dev/null')));
    local.push(mbs(await timed('cat /mnt/loc/f > /dev/null')));
    direct.push(mbs(await timed('cat /mnt/direct/f > /dev/null')));
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
      `round ${r + 1}: remote ${remote.at(-1).toFixed(1)}, local ${local.at(-1).toFixed(1)}, without the relay ${direct.at(-1).toFixed(1)}, wget ${wget.at(-1).toFixed(1)}, curl ${curl.at(-1).toFixed(1)} MB/s`,
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
  console.log(`remote 9p read without the relay MB/s: ${median(direct).toFixed(1)} (guest mounts diod at 10.0.2.2)`);

  // the relay alone, on the host, with the guest stopped so that it does not share the CPU
  tap.close();
  tap = undefined;
  await engine.invoke('vms:stop', { name: VM });
  hostFwd = await hostRelay(diod.port);
  const viaRelay = [];
  const straight = [];
  let msize = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const a = await hostRead(hostFwd.port, remoteDir, 131072);
    const b = await hostRead(diod.port, remoteDir, 131072);
    viaRelay.push(a.mbs);
    straight.push(b.mbs);
    msize = b.msize;
  }
  console.log(
    `relay host-side 9p read MB/s: ${median(viaRelay).toFixed(1)} (diod direct ${median(straight).toFixed(1)}, msize ${msize})`,
  );
  console.log(
    `load average during the run: ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} (${os.cpus().length} CPUs)`,
  );
} finally {
  tap?.close();
  await hostFwd?.close();
  await engine?.invoke('vms:stop', { name: VM }).catch(() => undefined);
  await engine?.close();
  for (const p of processesMentioning(home)) process.kill(p.pid, 'SIGKILL');
  await diod?.stop();
  await http?.close();
  await bundle?.close();
  fs.rmSync(work, { recursive: true, force: true });
}
