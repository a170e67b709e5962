// npm run bench:download
//
// Times `oklinux pull` (download, inline SHA-256, rename into the content store)
// against `curl -s -o f URL && sha256sum f`, both fetching the same 1 GiB file
// from a static HTTP server on 127.0.0.1, alternating several times in one run.
// Prints each timing and `download ratio app/curl+sha256sum: R` (median ratio).
//
// The file is generated once into .cache/bench/ (ignored by git). Every app run
// gets a fresh OKLINUX_HOME, so it really downloads; both clients write under
// .cache/bench/, on the same filesystem.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const OKLINUX = path.join(REPO, 'bin', 'oklinux.mjs');
const CACHE = path.join(REPO, '.cache', 'bench');
const DATA = path.join(CACHE, 'data-1GiB.bin');
const SIZE = 1 << 30;
const PAIRS = Number(process.env.BENCH_PAIRS ?? 3);

function requireTool(tool, pkg) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
    console.error(`${tool} is not installed; install the Debian package "${pkg}" (apt-get install -y ${pkg}).`);
    process.exit(1);
  }
}

/** The 1 GiB file and its SHA-256, generated (random bytes) on first use. */
async function ensureData() {
  const shaFile = `${DATA}.sha256`;
  if (fs.existsSync(DATA) && fs.statSync(DATA).size === SIZE && fs.existsSync(shaFile)) {
    return fs.readFileSync(shaFile, 'utf8').trim();
  }
  fs.mkdirSync(CACHE, { recursive: true });
  process.stdout.write(`generating ${DATA} (1 GiB, once)… `);
  const hash = createHash('sha256');
  const fd = fs.openSync(`${DATA}.tmp`, 'w');
  for (let done = 0; done < SIZE; done += 16 << 20) {
    const chunk = randomBytes(16 << 20);
    hash.update(chunk);
    fs.writeSync(fd, chunk);
  }
  fs.closeSync(fd);
  fs.renameSync(`${DATA}.tmp`, DATA);
  const sha = hash.digest('hex');
  fs.writeFileSync(shaFile, `${sha}\n`);
  console.log('done');
  return sha;
}

/** Static server: the data file (Content-Length, ETag) and an empty GitHub releases list. */
function startServer(sha) {
  const { size, mtime } = fs.statSync(DATA);
  const server = http.createServer((req, res) => {
    if (req.url === '/data.bin') {
      res.writeHead(200, {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(size),
        ETag: `"${sha.slice(0, 16)}"`,
        'Last-Modified': mtime.toUTCString(),
      });
      fs.createReadStream(DATA, { highWaterMark: 4 << 20 }).pipe(res);
    } else if (req.url?.startsWith('/repos/sevki/okLinux/releases')) {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('[]');
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, origin: `http://127.0.0.1:${server.address().port}` })),
  );
}

/** Run a command; resolve with its wall time in seconds and its stdout. Fails loudly on a non-zero exit. */
function timed(cmd, args, opts) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (err += b));
    child.on('error', reject);
    child.on('close', (code) => {
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code === 0) resolve({ secs, out });
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${err}${out}`));
    });
  });
}

async function appRun(origin, manifest, sha) {
  const home = fs.mkdtempSync(path.join(CACHE, 'app-'));
  const env = { ...process.env, OKLINUX_HOME: home, OKLINUX_GITHUB_API: origin };
  try {
    await timed(process.execPath, [OKLINUX, 'catalog', 'add', manifest], { env }); // setup, not timed
    const { secs } = await timed(process.execPath, [OKLINUX, 'pull', 'bench-1gib'], { env });
    if (!fs.existsSync(path.join(home, 'store', 'sha256', sha))) throw new Error('oklinux pull stored nothing');
    return secs;
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}

async function curlRun(origin, sha) {
  const dir = fs.mkdtempSync(path.join(CACHE, 'curl-'));
  try {
    const { secs, out } = await timed('sh', ['-c', `curl -s -o f ${origin}/data.bin && sha256sum f`], { cwd: dir });
    if (!out.startsWith(sha)) throw new Error(`curl+sha256sum got ${out.trim()}, expected ${sha}`);
    return secs;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const rate = (secs) => `${(SIZE / secs / 2 ** 20).toFixed(0)} MiB/s`;

requireTool('curl', 'curl');
requireTool('sha256sum', 'coreutils');
const sha = await ensureData();
const { server, origin } = await startServer(sha);
const manifest = path.join(CACHE, 'manifest.json');
fs.writeFileSync(
  manifest,
  JSON.stringify({
    schema: 1,
    bundles: [
      {
        name: 'bench-1gib',
        version: '1',
        arch: 'x86_64',
        artifacts: { kernel: { url: `${origin}/data.bin`, sha256: sha, size: SIZE } },
      },
    ],
  }),
);

try {
  const ratios = [];
  for (let i = 0; i < PAIRS; i++) {
    const order = i % 2 === 0 ? ['app', 'curl'] : ['curl', 'app'];
    const t = {};
    for (const who of order) {
      t[who] = who === 'app' ? await appRun(origin, manifest, sha) : await curlRun(origin, sha);
      const label = who === 'app' ? 'oklinux pull          ' : 'curl -o f && sha256sum';
      console.log(`pair ${i + 1} ${label} ${t[who].toFixed(2)} s (${rate(t[who])})`);
    }
    ratios.push(t.app / t.curl);
    console.log(`pair ${i + 1} ratio app/curl+sha256sum ${(t.app / t.curl).toFixed(2)}`);
  }
  console.log(`download ratio app/curl+sha256sum: ${median(ratios).toFixed(2)}`);
} finally {
  server.close();
  server.closeAllConnections();
}
