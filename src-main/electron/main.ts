/**
 * Electron's entry. With --oklinux-supervise <plan> this process is a VM
 * supervisor (RunAsNode is fused off, so the app's own binary plays that part):
 * no window, no single-instance lock. Otherwise it is the desktop app.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { app } from 'electron';
import { startApp } from './app';
import { superviseFromFile, supervisePlanArg } from './supervise';

const here = path.dirname(fileURLToPath(import.meta.url));

function fail(e: unknown): void {
  process.stderr.write(`okLinux Desktop: ${e instanceof Error ? e.message : String(e)}\n`);
  app.exit(1);
}

try {
  const plan = supervisePlanArg(process.argv);
  if (plan) {
    app.disableHardwareAcceleration();
    app.dock?.hide();
    superviseFromFile(plan).then(() => app.exit(0), fail);
  } else {
    startApp({ rendererDir: path.join(here, '..', '..', 'renderer'), preload: path.join(here, 'preload.cjs') }).catch(
      fail,
    );
  }
} catch (e) {
  fail(e);
}
