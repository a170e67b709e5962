// npm run bench:ui  (run through tsx: it starts the engine and the browser host in this process)
//
// The renderer measured in Debian's Chromium (headless, playwright-core) against the browser host
// (`startHost`, what `oklinux serve` runs) with a real engine on a fresh data directory. The renderer is
// built for this run into a temporary directory (`vite build`, the production build).
//
// 1. `cold load to interactive`: a fresh browser context (empty cache and storage) opens the URL with
//    its token; the time from navigation start (the page's performance.timeOrigin) until the app is
//    usable: the WebSocket to the engine is open (connection badge data-status=open) and the VM list
//    has loaded (the empty state's Launch button, or VM cards). Recorded in the page by a
//    MutationObserver installed before any script runs. Median of BENCH_UI_LOADS runs (default 7).
// 2. `JS bundle gzipped`: every .js file the build emits, each gzipped at zlib's default level (6, as
//    `gzip` does), summed; KB = 1024 bytes.
// 3. `10 MiB console output rendered in`: a VM row in the store (never started) is opened in the VM
//    detail view; its console is attached, then 10 MiB of console text (78-character lines, every
//    8th coloured with SGR) is pushed through the engine's event bus as `console:data` events of
//    4 KiB, the size a pty read gives, as fast as the host accepts them (256 KiB per event-loop turn),
//    ending in a unique marker line. Timed from the first event emitted until the marker is on screen
//    in xterm's rows (checked on every animation frame), so it includes the WebSocket, the flow
//    control, xterm's parser and its renderer. Median of BENCH_UI_FLOODS runs (default 3), each in a
//    fresh context.
// 4. `longest main-thread task while streaming`: PerformanceObserver 'longtask' entries (tasks of
//    50 ms or more) that start between the first event and the marker being shown, longest over all
//    flood runs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { performance } from 'node:perf_hooks';
import { Engine } from '../src-main/core/engine.ts';
import { startHost } from '../src-main/host/server.ts';
import { buildRenderer, launchChromium } from '../test/e2e/browser.ts';

const LOADS = Number(process.env.BENCH_UI_LOADS ?? 7);
const FLOODS = Number(process.env.BENCH_UI_FLOODS ?? 3);
const FLOOD_BYTES = 10 * 1024 * 1024;
const CHUNK = 4 * 1024;
const PER_TURN = 256 * 1024;
const VM = 'flood';
const GOALS = { interactiveMs: 1000, bundleKB: 400, taskMs: 100 };

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ms = (x) => `${Math.round(x)} ms`;

/** Runs in the page before its scripts: records when the app became usable, and every long task. */
function instrument() {
  const w = window;
  w.benchLongTasks = [];
  w.benchLongTaskSupported = PerformanceObserver.supportedEntryTypes.includes('longtask');
  if (w.benchLongTaskSupported) {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.benchLongTasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  }
  const usable = () =>
    document.querySelector('[data-testid=connection][data-status=open]') &&
    document.querySelector('[data-testid=vms-empty] [data-testid=launch-oklinux], [data-testid=vm-card]');
  const observer = new MutationObserver(() => {
    if (w.benchInteractive === undefined && usable()) {
      w.benchInteractive = performance.now();
      observer.disconnect();
    }
  });
  observer.observe(document, { subtree: true, childList: true, attributes: true });
}

/** 10 MiB of console text: numbered 78-character lines, every 8th coloured, and the marker line last. */
function floodText(marker) {
  const tail = `\r\n${marker}\r\n`;
  const lines = [];
  let size = 0;
  for (let i = 0; size < FLOOD_BYTES - tail.length; i++) {
    const body = `[${String(i).padStart(7, '0')}] kernel: virtio 9p flood line ${'.'.repeat(36)} ok`;
    const line = i % 8 === 0 ? `\x1b[32m${body}\x1b[0m\r\n` : `${body}\r\n`;
    lines.push(line);
    size += line.length;
  }
  const text = lines.join('').slice(0, FLOOD_BYTES - tail.length) + tail;
  if (text.length !== FLOOD_BYTES) throw new Error(`flood is ${text.length} bytes, not ${FLOOD_BYTES}`);
  return text;
}

async function coldLoad(browser, url) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  try {
    await context.addInitScript(instrument);
    const page = await context.newPage();
    await page.goto(url);
    await page.waitForFunction(() => window.benchInteractive !== undefined, null, { timeout: 30_000 });
    return await page.evaluate(() => window.benchInteractive);
  } finally {
    await context.close();
  }
}

async function flood(browser, engine, host, run) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  try {
    await context.addInitScript(instrument);
    const page = await context.newPage();
    await page.goto(`${host.url}#/vms/${VM}`);
    await page.locator('[data-testid=console] .xterm-rows').waitFor({ timeout: 30_000 });
    if (!(await page.evaluate(() => window.benchLongTaskSupported))) {
      throw new Error('this Chromium does not report PerformanceObserver "longtask" entries');
    }
    // The console is attached once its output shows up: probe until it does.
    const ready = `bench-ready-${run}`;
    const shown = (text) => page.locator('[data-testid=console] .xterm-rows').getByText(text).count();
    for (let i = 0; (await shown(ready)) === 0; i++) {
      if (i === 100) throw new Error('the console never showed output pushed as console:data events');
      engine.ctx.bus.emit({ type: 'console:data', vm: VM, data: `\r\n${ready}\r\n` });
      await new Promise((r) => setTimeout(r, 100));
    }
    await page.waitForTimeout(500); // let the page settle before the flood

    const marker = `BENCH-END-${run}-${Math.random().toString(36).slice(2)}`;
    const text = floodText(marker);
    const startPage = await page.evaluate(() => performance.now());
    const shownMarker = page.waitForFunction(
      (m) => document.querySelector('[data-testid=console] .xterm-rows')?.textContent?.includes(m),
      marker,
      { polling: 'raf', timeout: 300_000 },
    );
    const start = performance.now();
    for (let at = 0; at < text.length; at += PER_TURN) {
      const end = Math.min(text.length, at + PER_TURN);
      for (let c = at; c < end; c += CHUNK) {
        engine.ctx.bus.emit({ type: 'console:data', vm: VM, data: text.slice(c, Math.min(end, c + CHUNK)) });
      }
      await new Promise((r) => setImmediate(r));
    }
    await shownMarker;
    const elapsed = performance.now() - start;
    const endPage = await page.evaluate(() => performance.now());
    const tasks = await page.evaluate(() => window.benchLongTasks);
    const during = tasks.filter((t) => t.start >= startPage && t.start <= endPage);
    return { elapsed, longest: Math.max(0, ...during.map((t) => t.duration)), longTasks: during.length };
  } finally {
    await context.close();
  }
}

function gzippedJsBytes(dir) {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.js')) {
      total += zlib.gzipSync(fs.readFileSync(path.join(entry.parentPath, entry.name))).length;
    }
  }
  return total;
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'oklinux-bench-ui-'));
const ui = path.join(work, 'ui');
const home = path.join(work, 'home');
const emptyManifest = path.join(work, 'manifest.json');
fs.writeFileSync(emptyManifest, JSON.stringify({ schema: 1, bundles: [] }));

let browser;
let engine;
let host;
try {
  browser = await launchChromium();
  await buildRenderer(ui);
  const bundleKB = gzippedJsBytes(ui) / 1024;
  engine = new Engine({
    home,
    // nothing leaves this machine: no GitHub (a closed port), no default catalog
    env: { ...process.env, OKLINUX_GITHUB_API: 'http://127.0.0.1:9', OKLINUX_DEFAULT_MANIFEST: emptyManifest },
  });
  host = await startHost({ engine, staticDir: ui });
  console.log(`Chromium ${browser.version()}, ${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(2)}`);

  const loads = [];
  for (let i = 0; i < LOADS; i++) loads.push(await coldLoad(browser, host.url));
  const interactive = median(loads);

  await engine.invoke('vms:create', { name: VM, image: 'none' });
  const floods = [];
  for (let i = 0; i < FLOODS; i++) floods.push(await flood(browser, engine, host, i));
  const rendered = median(floods.map((f) => f.elapsed));
  const longest = Math.max(...floods.map((f) => f.longest));

  console.log(
    `cold load to interactive: ${ms(interactive)} (median of ${LOADS} fresh contexts: ${loads.map(ms).join(', ')})`,
  );
  console.log(`JS bundle gzipped: ${Math.round(bundleKB)} KB`);
  console.log(
    `10 MiB console output rendered in: ${ms(rendered)} (median of ${FLOODS}: ${floods.map((f) => ms(f.elapsed)).join(', ')})`,
  );
  console.log(
    longest > 0
      ? `longest main-thread task while streaming: ${ms(longest)} (${floods.map((f) => `${f.longTasks} long tasks, longest ${ms(f.longest)}`).join('; ')})`
      : 'longest main-thread task while streaming: < 50 ms (no task reached the 50 ms longtask threshold)',
  );
  const verdict = (ok) => (ok ? 'met' : 'missed');
  console.log(
    `goals: interactive <= ${GOALS.interactiveMs} ms ${verdict(interactive <= GOALS.interactiveMs)}; ` +
      `bundle <= ${GOALS.bundleKB} KB gz ${verdict(bundleKB <= GOALS.bundleKB)}; ` +
      `no task over ${GOALS.taskMs} ms while streaming ${verdict(longest <= GOALS.taskMs)}`,
  );
} finally {
  await browser?.close();
  await host?.close();
  await engine?.close();
  fs.rmSync(work, { recursive: true, force: true });
}
