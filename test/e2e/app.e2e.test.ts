/**
 * The UI end to end: the built renderer in Debian's Chromium (playwright-core),
 * served by the browser host (`startHost`, what `oklinux serve` runs) on
 * 127.0.0.1 with a real engine on an empty data directory, opened the way
 * `oklinux serve` opens it (its private redirect page), a local okLinux
 * world (GitHub-shaped releases API + default-shaped manifest) and real QEMU
 * (TCG) booting the okLinux-shaped test kernel with no initrd. A user's path:
 * Settings (accel → TCG), Launch okLinux watching the download, the console
 * (prompt, a command and its output), a share added by path that applies after
 * Restart, Images, Stop (a clean poweroff). The engine's warnings (it runs as
 * root here, as in CI) reach the page: Settings' system check, the banner and
 * the VM's own list. Screenshots of every view go to test-results/e2e/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Engine } from '@core/engine';
import { startHost, type Host } from '../../src-main/host/server';
import { launchDir, writeLaunchPage, type LaunchPage } from '../../src-main/host/launch';
import { REPO } from '../helpers/cli';
import { startRootlessWorld, type RootlessWorld } from '../helpers/rootless';
import { tmpDir } from '../helpers/tmp';
import { processesMentioning, vmEnv } from '../helpers/vm';
import { connect } from '../host/ws-client';
import { buildRenderer, launchChromium, waitForConsole } from './browser';

const t = tmpDir('oklinux-e2e-');
const home = path.join(t.dir, 'home');
const ui = path.join(t.dir, 'ui');
const shareDir = path.join(t.dir, 'e2e-share');
const SHOTS = path.join(REPO, 'test-results', 'e2e');
const HOST_FILE_TEXT = 'written-on-the-host-for-e2e';
// Rows are read with trailing blanks trimmed, so the prompt's final space is not there.
const PROMPT = /oklinux-init: ready[\s\S]*\noklinux:\/root#/;
const AS_ROOT = process.geteuid?.() === 0;

let world: RootlessWorld;
let engine: Engine;
let host: Host;
let launch: LaunchPage;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let origin: string;

const byId = (id: string): string => `[data-testid=${id}]`;

async function shot(name: string, p: Page = page): Promise<void> {
  await p.screenshot({ path: path.join(SHOTS, `${name}.png`), animations: 'disabled' });
}

/** A download entry as the page showed it. */
interface SeenDownload {
  state: string;
  percent: string | null;
  text: string;
}

beforeAll(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  fs.mkdirSync(shareDir);
  fs.writeFileSync(path.join(shareDir, 'hello.txt'), `${HOST_FILE_TEXT}\n`);
  browser = await launchChromium();
  await buildRenderer(ui);
  const worldDir = path.join(t.dir, 'world');
  world = await startRootlessWorld(worldDir);
  // Local downloads finish in milliseconds; pace the rootfs (about 3 s) so its progress stays on screen.
  const rootfs = fs.readFileSync(path.join(worldDir, 'rootfs.tar.gz'));
  const slices = Math.ceil(rootfs.length / (64 * 1024));
  world.server.route('/files/rootfs.tar.gz', { body: rootfs, sliceDelayMs: Math.max(20, Math.round(3000 / slices)) });
  engine = new Engine({
    home,
    env: { ...vmEnv(home), OKLINUX_GITHUB_API: world.api, OKLINUX_DEFAULT_MANIFEST: world.manifestUrl },
  });
  host = await startHost({ engine, staticDir: ui });
  origin = `http://127.0.0.1:${host.port}`;
  // What `oklinux serve` opens the browser on: a private page that redirects to the tokened URL.
  launch = await writeLaunchPage(launchDir(home), host.url, host.port);
  context = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  page = await context.newPage();
});

afterAll(async () => {
  await browser?.close();
  launch?.remove();
  await host?.close();
  for (const p of processesMentioning(home)) process.kill(p.pid, 'SIGKILL');
  await engine?.close();
  await world?.close();
  t.cleanup();
});

describe('browser host: who may connect', () => {
  it('refuses a WebSocket without the token or with a foreign Origin', async () => {
    const api = (token: string | null): string =>
      `ws://127.0.0.1:${host.port}/api${token === null ? '' : `?token=${token}`}`;
    const noToken = await connect(api(null), origin);
    expect(noToken).toMatchObject({ ok: false, status: 401 });
    const wrongToken = await connect(api('x'.repeat(43)), origin);
    expect(wrongToken).toMatchObject({ ok: false, status: 401 });
    const foreign = await connect(api(host.token), 'http://evil.example');
    expect(foreign).toMatchObject({ ok: false, status: 403 });
    const noOrigin = await connect(api(host.token));
    expect(noOrigin).toMatchObject({ ok: false, status: 403 });
    // the same request from the page's own origin with the token is let in
    const own = await connect(api(host.token), origin);
    expect(own.ok).toBe(true);
    if (own.ok) await own.client.close();
  });

  it('shows what to do when the page cannot reach the engine', async () => {
    const other = await browser.newContext({ viewport: { width: 1280, height: 820 } });
    try {
      const p = await other.newPage();
      await p.goto(`${origin}/?token=not-the-token`);
      const box = p.locator(byId('engine-unreachable'));
      await box.waitFor();
      expect(await box.locator('h1').textContent()).toContain('Cannot reach the okLinux engine');
      expect(await p.locator(byId('connection')).getAttribute('data-status')).not.toBe('open');
      await shot('engine-unreachable', p);
      // opened without any token (and none remembered in this tab)
      const bare = await other.newPage();
      await bare.goto(`${origin}/`);
      await bare.locator(byId('engine-unreachable')).getByText('This page needs its access token').waitFor();
      await shot('engine-token-missing', bare);
    } finally {
      await other.close();
    }
  });
});

describe('okLinux in the browser, from an empty data directory', () => {
  it('Settings: the data directory is shown; acceleration is set to TCG and saved', async () => {
    // the engine makes its folders (0700) when it opens the data directory; no VM in it yet
    expect(fs.readdirSync(path.join(home, 'vms'))).toEqual([]);
    expect(launch.url).toBe(`file://${path.join(home, 'run', 'serve', `open-${host.port}.html`)}`);
    await page.goto(launch.url); // as `oklinux serve` opens it, with no token on any command line
    await page.locator(`${byId('connection')}[data-status=open]`).waitFor();
    expect(new URL(page.url()).origin).toBe(origin);
    expect(new URL(page.url()).searchParams.has('token')).toBe(false); // kept out of the address bar
    await page.click(byId('nav-settings'));
    await page.locator(byId('view-settings')).waitFor();
    await page.locator(byId('data-dir')).getByText(home, { exact: true }).waitFor();
    // A program okLinux runs cannot be changed from a browser page: the field is read-only and says why.
    expect(await page.locator(byId('settings-bldy')).getAttribute('readonly')).not.toBeNull();
    await page.locator(byId('settings-bldy-locked')).getByText('oklinux config set bldyPath PATH').waitFor();
    await page.selectOption(byId('settings-accel'), 'tcg');
    await page.click(byId('settings-save'));
    await page.locator(byId('settings-message')).getByText('Saved').waitFor();
    expect((await engine.invoke('settings:get', {})).accel).toBe('tcg');
    await page.locator(byId('doctor-report')).getByText('schema').waitFor();
    const root = page.locator(byId('doctor-root'));
    expect((await root.textContent())?.trim()).toMatch(AS_ROOT ? /^yes .*run okLinux as a normal user/ : /^no$/);
    if (AS_ROOT) {
      // the engine's root warning: in the system check, and in the banner from the first page on
      await page.locator(byId('doctor-warning')).getByText('okLinux runs as root (euid 0)').waitFor();
      await page.locator(byId('warning')).getByText('okLinux runs as root (euid 0)').first().waitFor();
    }
    await shot('settings');
  });

  it('Launch okLinux from the empty VMs view shows the download, then opens the running VM', async () => {
    await page.click(byId('nav-vms'));
    await page.locator(byId('vms-empty')).waitFor();
    await shot('vms-empty');

    // Record every state the download entries pass through, however briefly they are shown.
    await page.evaluate(() => {
      const seen: { state: string; percent: string | null; text: string }[] = [];
      (window as unknown as { seenDownloads: typeof seen }).seenDownloads = seen;
      const record = (): void => {
        for (const el of document.querySelectorAll<HTMLElement>('[data-testid=download]')) {
          seen.push({
            state: el.dataset.state ?? '',
            percent: el.querySelector('[data-testid=download-progress]')?.getAttribute('aria-valuenow') ?? null,
            text: el.querySelector('[data-testid=download-text]')?.textContent ?? '',
          });
        }
      };
      new MutationObserver(record).observe(document.body, {
        subtree: true,
        childList: true,
        attributes: true,
        characterData: true,
      });
    });
    await page.click(byId('launch-oklinux'));
    // the rootfs (the paced one) partway through: bar, percent, size, rate, time left, Cancel
    const rootfsBar = page.locator(byId('download')).filter({ hasText: /rootfs[\s\S]*\b[1-7]\d% · / });
    await rootfsBar.waitFor({ timeout: 60_000 });
    await shot('vms-downloading');
    expect(await rootfsBar.locator(byId('download-cancel')).count()).toBe(1);

    await page
      .locator(`${byId('view-vm')}, ${byId('launch-error')}`)
      .first()
      .waitFor({ timeout: 120_000 });
    const launchError = page.locator(byId('launch-error'));
    if (await launchError.isVisible()) throw new Error(`Launch okLinux failed: ${await launchError.textContent()}`);
    expect(new URL(page.url()).hash).toBe('#/vms/oklinux');

    const seen = await page.evaluate(() => (window as unknown as { seenDownloads: SeenDownload[] }).seenDownloads);
    const percents = new Set(seen.filter((d) => d.state === 'running').map((d) => Number(d.percent)));
    expect(percents.size).toBeGreaterThan(3); // progress moved on screen…
    expect(percents.has(100)).toBe(true); // …to the end
    expect(seen.some((d) => /^\d+% · .+ of .+ · .+\/s · .+ left$/.test(d.text))).toBe(true);
    // finished downloads leave the list; the engine has them all done
    expect(await page.locator(byId('download')).count()).toBe(0);
    const downloads = await engine.invoke('downloads:list', {});
    expect(downloads.length).toBeGreaterThan(0);
    expect(downloads.map((d) => d.state)).toEqual(downloads.map(() => 'done'));
  });

  it('the console shows the guest prompt; a typed command runs and its output appears', async () => {
    await page.locator(byId('view-vm')).waitFor();
    await waitForConsole(page, PROMPT, 120_000);
    if (AS_ROOT) {
      // vms:start's warning event, through the WebSocket: the banner and the VM's own list
      const noShare = 'The VM "oklinux" has no writable share now.';
      await page.locator(byId('warning')).getByText(noShare).waitFor();
      expect(await page.locator(byId('vm-warning')).allTextContents()).toEqual([expect.stringContaining(noShare)]);
      await page.emulateMedia({ colorScheme: 'dark' });
      await shot('vm-warnings-dark');
      await page.emulateMedia({ colorScheme: 'light' });
      await shot('vm-warnings');
    }
    await page.click(byId('console'));
    await page.keyboard.type('echo e2e-""$((6*7))-ok');
    await page.keyboard.press('Enter');
    // the echo of the typed line reads e2e-""$((6*7))-ok; only the output reads e2e-42-ok
    await waitForConsole(page, /e2e-42-ok/, 30_000);
    await shot('vm-console');
  });

  it('a share added by path is pending until Restart; then the guest reads the host file', async () => {
    await page.fill(byId('share-path-input'), shareDir);
    await page.click(byId('share-add'));
    const row = page.locator(byId('share-row'));
    await row.waitFor();
    const tag = await row.getAttribute('data-tag');
    expect(tag).toBe('e2e-share');
    await row.locator(byId('share-pending')).waitFor();
    await page.locator(byId('restart-banner')).waitFor();
    await page.locator(byId('share-message')).waitFor();
    await shot('vm-shares-pending');

    await page.click(byId('vm-restart'));
    await page.locator(byId('restart-banner')).waitFor({ state: 'detached', timeout: 120_000 });
    await page.locator(byId('share-pending')).waitFor({ state: 'detached' });
    await waitForConsole(
      page,
      new RegExp(`oklinux-init: mounted ${tag} on /mnt/${tag}[\\s\\S]*${PROMPT.source}`),
      120_000,
    );
    await page.click(byId('console'));
    await page.keyboard.type(`cat /mnt/${tag}/hello.txt`);
    await page.keyboard.press('Enter');
    const text = await waitForConsole(page, new RegExp(`\n${HOST_FILE_TEXT}\n`), 30_000);
    expect(text).toContain(`cat /mnt/${tag}/hello.txt`);
    if (AS_ROOT) {
      // the restart's warnings replace the first start's: now the VM has a writable share
      const rw = `The VM "oklinux" has writable shares (${fs.realpathSync(shareDir)}).`;
      await page.locator(byId('vm-warning')).getByText(rw).waitFor();
      expect(await page.locator(byId('vm-warning')).count()).toBe(1);
      // dismissing the banner leaves the VM's own list
      await page
        .locator(byId('warning'))
        .filter({ hasText: rw })
        .getByRole('button', { name: 'Dismiss warning' })
        .click();
      await page.locator(byId('warning')).filter({ hasText: rw }).waitFor({ state: 'detached' });
      expect(await page.locator(byId('vm-warning')).count()).toBe(1);
    }
    await shot('vm-shares-restarted');
  });

  it('Images lists the installed okLinux bundle', async () => {
    await page.click(byId('nav-images'));
    await page.locator(byId('view-images')).waitFor();
    await page.locator(`${byId('catalog-entry')}[data-ref=oklinux][data-installed=true]`).waitFor();
    await shot('images');
  });

  it('the VMs view shows the running VM, and Stop powers it off cleanly within seconds', async () => {
    await page.click(byId('nav-vms'));
    const card = page.locator(`${byId('vm-card')}[data-vm=oklinux]`);
    await card.locator(`${byId('vm-state')}[data-state=running]`).waitFor();
    await shot('vms-card');
    const asked = Date.now();
    await card.locator(byId('vm-stop')).click();
    await card.locator(`${byId('vm-state')}[data-state=stopped]`).waitFor({ timeout: 60_000 });
    const secs = (Date.now() - asked) / 1000;
    console.log(`stop to stopped (the UI's Stop): ${secs.toFixed(2)} s`);
    // the guest answered the power button (the grace period is the default 30 s)
    expect(secs).toBeLessThan(5);
    expect(await engine.invoke('vms:logs', { name: 'oklinux' })).toMatch(/oklinux-init: poweroff[\r\n]+/);
    expect(await card.locator(byId('vm-error')).count()).toBe(0);
    expect((await engine.invoke('vms:get', { name: 'oklinux' })).state).toBe('stopped');
    await shot('vms-stopped');
  });
});
