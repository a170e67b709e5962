// npm run bench:cli
//
// The CLI's fixed cost: `oklinux ls` on an empty data directory (made by one `oklinux ls` first: the
// database exists, no VM), run the way `npx oklinux` runs it (package.json's "bin": `node bin/oklinux.cjs ls`;
// `node bin/oklinux.mjs ls`, an ES module entry, is shown too), bundled
// (OKLINUX_USE_DIST=1, after building the CLI) and from the sources (OKLINUX_USE_DIST=0, through tsx),
// against the floor every Node CLI pays: Node opening the same database with better-sqlite3 and
// answering `SELECT * FROM vms`. Rounds alternate the three (so a busy machine slows each alike) and
// each figure is the median of BENCH_RUNS (default 10) runs. Prints seconds and the ratios to the
// baseline measured in this run; `node -e 0` is shown as the floor of Node alone, and `npx oklinux ls`
// for what npm's own start adds.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('..', import.meta.url));
/** What `oklinux` and `npx oklinux` run: package.json's "bin". */
const OKLINUX = path.join(REPO, JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).bin.oklinux);
const OKLINUX_MJS = path.join(REPO, 'bin', 'oklinux.mjs');
const RUNS = Number(process.env.BENCH_RUNS ?? 10);

/** The CLI bundles, built now, so what is measured is these sources (about 2 s). */
function buildCli() {
  const vite = path.join(REPO, 'node_modules', 'vite', 'bin', 'vite.js');
  for (const mode of ['cli', 'supervise']) {
    const r = spawnSync(process.execPath, [vite, 'build', '-c', 'vite.main.config.mjs', '--mode', mode], {
      cwd: REPO,
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`vite build --mode ${mode} failed:\n${r.stdout}\n${r.stderr}`);
  }
}

/** Wall seconds of one run; fails loudly if the command does. */
function time(argv, env) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { env, encoding: 'utf8', cwd: REPO });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}):\n${r.stderr}${r.stdout}`);
  return { secs, stdout: r.stdout };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (s) => s.toFixed(3);

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'oklinux-bench-cli-'));
try {
  process.stdout.write('building the CLI bundle… ');
  buildCli();
  console.log('done');
  const env = { ...process.env, OKLINUX_HOME: home };
  delete env.OKLINUX_DEBUG;
  const bundled = { ...env, OKLINUX_USE_DIST: '1' };
  const source = { ...env, OKLINUX_USE_DIST: '0' };
  // the data directory, made once; both must list no VM
  for (const e of [bundled, source]) {
    const { stdout } = time([process.execPath, OKLINUX, 'ls', '--json'], e);
    if (stdout.trim() !== '[]') throw new Error(`expected no VMs in ${home}, got ${stdout}`);
  }
  const db = path.join(home, 'oklinux.db');
  const query = `const D=require('better-sqlite3');const db=new D(${JSON.stringify(db)});db.prepare('SELECT * FROM vms').all();db.close()`;
  const cases = {
    bundled: () => time([process.execPath, OKLINUX, 'ls'], bundled).secs,
    mjs: () => time([process.execPath, OKLINUX_MJS, 'ls'], bundled).secs,
    source: () => time([process.execPath, OKLINUX, 'ls'], source).secs,
    baseline: () => time([process.execPath, '-e', query], { ...env, NODE_PATH: path.join(REPO, 'node_modules') }).secs,
    node: () => time([process.execPath, '-e', '0'], env).secs,
    // what `npx oklinux ls` costs in the repo: npm's own start, then the same bundle
    npx: () => time(['npx', '--no-install', 'oklinux', 'ls'], { ...bundled, npm_config_update_notifier: 'false' }).secs,
  };
  const t = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (const f of Object.values(cases)) f(); // warm the page cache (not counted)
  for (let i = 0; i < RUNS; i++) for (const [k, f] of Object.entries(cases)) t[k].push(f());
  const m = Object.fromEntries(Object.entries(t).map(([k, xs]) => [k, median(xs)]));
  console.log(
    `runs: ${RUNS} each, alternating; medians; ${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(2)}`,
  );
  console.log(`oklinux ls (s), bundled: ${fmt(m.bundled)}`);
  console.log(`oklinux ls (s), bundled, as node bin/oklinux.mjs: ${fmt(m.mjs)}`);
  console.log(`oklinux ls (s), from source: ${fmt(m.source)}`);
  console.log(`node + better-sqlite3 baseline (s): ${fmt(m.baseline)}`);
  console.log(`node -e 0 (s): ${fmt(m.node)}`);
  console.log(`npx oklinux ls (s), bundled (npm's own start included): ${fmt(m.npx)}`);
  console.log(`oklinux ls bundled vs baseline: ${(m.bundled / m.baseline).toFixed(2)}`);
  console.log(`oklinux ls bundled, as node bin/oklinux.mjs, vs baseline: ${(m.mjs / m.baseline).toFixed(2)}`);
  console.log(`oklinux ls from source vs baseline: ${(m.source / m.baseline).toFixed(2)}`);
} finally {
  fs.rmSync(home, { recursive: true, force: true });
}
