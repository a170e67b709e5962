/**
 * The supervisor: one small detached process per running VM. It owns the VMM's
 * pty (the serial console), appends the console to the VM's log, serves the
 * console socket to any number of clients (the app, `oklinux console`), carries
 * out stop requests, and records the VMM's end in SQLite. Front ends are only
 * clients, so a VM outlives the CLI or the window that started it.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { execFile } from 'node:child_process';
import pty from 'node-pty';
import { Store } from '@core/store';
import { connectQmp } from '@core/vmm/qmp';
import { bldyStopArgv } from '@core/vmm/bldy';
import { ConsoleLog, bootMarker, currentBoot, tailLog } from './console-log';
import { onLines, send, type ClientMessage, type ServerMessage } from './protocol';
import { waitGone } from './proc';
import { consoleLines, guestAddressOf, remoteShareStates } from './console-states';
import { SetIdGuard, scrubTree } from '@core/shares/suid';
import { Relay } from '@core/remote/relay';
import { openTransport, type RemoteTarget } from '@core/remote/registry';
import { parseRemoteUrl } from '@core/remote/url';
import type { PinnedFile } from '@core/images/integrity';

export interface LaunchPlan {
  vm: string;
  dbFile: string;
  backend: 'qemu' | 'bldy';
  /** The VMM binary and its arguments. */
  bin: string;
  args: string[];
  cwd: string;
  controlSocket: string;
  consoleSocket: string;
  logFile: string;
  /** How long a graceful stop may take before SIGTERM. */
  gracefulMs: number;
  /** Warn when the guest prints nothing for this long after start. */
  watchdogMs: number;
  /** A hint for the watchdog warning (e.g. try --accel tcg). */
  watchdogHint: string;
  /** Writable shares: set-id bits are cleared before the VMM runs, while it runs, and after (shares/suid.ts). */
  setIdScrub?: string[];
  /** Files hashed again right before the VMM is spawned (the bldy binary, kernel, initrd). */
  verify?: PinnedFile[];
  /**
   * Remote 9p shares: the relay's unix socket, and each share's URL by tag (core/remote/relay.ts), with the
   * paths of a 9p+quic share's TLS files, which the relay's QUIC transport reads itself.
   */
  relay?: { socket: string; shares: ({ tag: string } & RemoteTarget)[] };
}

const signalName = (n: number): string =>
  Object.entries(os.constants.signals).find(([, v]) => v === n)?.[0] ?? `signal ${n}`;

/** While a graceful stop waits, the power button is pressed again this often. */
const POWER_BUTTON_REPEAT_MS = 3000;
/** oklinux-init's line when the kernel would not power off: synced, / read-only, the machine still up. */
const HALT_FAILED = /^oklinux-init: (poweroff|reboot) failed$/;

/** Console bytes a client may leave unread before it is disconnected. */
const MAX_CLIENT_BACKLOG = 4 * 1024 * 1024;

export async function runSupervisor(plan: LaunchPlan): Promise<void> {
  const clients = new Set<net.Socket>();
  const broadcast = (m: ServerMessage): void =>
    clients.forEach((c) => {
      // a client that stopped reading (frozen window, suspended CLI) is dropped, not buffered for
      if (c.writableLength > MAX_CLIENT_BACKLOG) c.destroy();
      else send(c, m);
    });
  let stopRequested = false;
  let sawOutput = false;
  let recent = '';
  let panic: string | null = null;

  // Before the VMM runs, so the guest never sees a share that is not watched.
  // The first 100 files are named in supervisor.log and the event log; after that only counted.
  const setIdCleared: string[] = [];
  let setIdCount = 0;
  const noteCleared = (file: string): void => {
    if (++setIdCount <= 100) {
      setIdCleared.push(file);
      process.stderr.write(
        `cleared the set-id bits of ${file} (or closed it, a device node) made in the VM "${plan.vm}"\n`,
      );
    } else if (setIdCount % 1000 === 0) {
      process.stderr.write(`cleared the set-id bits of ${setIdCount} files (or device nodes) so far\n`);
    }
  };
  const guard = plan.setIdScrub?.length
    ? SetIdGuard.start(plan.setIdScrub, {
        cleared: noteCleared,
        problem: (message) => process.stderr.write(`warning: ${message}\n`),
      })
    : null;

  // Remote 9p shares: the relay listens before the VMM runs (its guestfwd command connects to it), and
  // each share's state comes from the relay (the server cannot be reached) and the guest's console line.
  let store: Store | undefined;
  const remote = remoteShareStates(plan, () => store);
  const guestNet = guestAddressOf(plan.vm, () => store);
  let relay: Relay | null = null;
  if (plan.relay) {
    try {
      relay = await Relay.listen(
        plan.relay.socket,
        await Promise.all(
          plan.relay.shares.map(async (s) => ({
            tag: s.tag,
            transport: await openTransport(s),
            // the guest may attach to the share's own export only, not to others the server offers
            aname: parseRemoteUrl(s.url).aname,
          })),
        ),
        {
          unreachable: (tag, reason) => remote.unreachable(tag, reason),
          refused: (tag, reason) =>
            process.stderr.write(`remote share "${tag}" of the VM "${plan.vm}": ${reason}; connection closed\n`),
        },
      );
    } catch (e) {
      guard?.close();
      throw e;
    }
  }

  const child = pty.spawn(plan.bin, plan.args, {
    name: 'xterm-256color',
    cols: 120,
    rows: 40,
    cwd: plan.cwd,
    env: process.env as Record<string, string>,
  });
  // The VMM starts first; the log, the database and the console socket are set up while it boots.
  // If any of them fails, the VMM must not be left running unsupervised.
  let log: ConsoleLog;
  try {
    log = new ConsoleLog(plan.logFile);
    log.write(bootMarker());
    store = new Store(plan.dbFile);
    remote.boot();
    guestNet.clear();
  } catch (e) {
    guard?.close();
    void relay?.close();
    child.kill('SIGKILL');
    throw e;
  }
  let logBroken = false;
  const writeLog = (data: string): void => {
    if (logBroken) return;
    try {
      log.write(data);
    } catch (e) {
      // e.g. the disk is full: keep the VM and its console, stop logging
      logBroken = true;
      broadcast({
        type: 'warning',
        message: `The console log ${plan.logFile} cannot be written (${(e as Error).message}); logging stopped.`,
      });
    }
  };
  // How a stop ends a VMM the guest did not power off: SIGTERM (QEMU flushes its disks), SIGKILL after 5 s.
  const terminate = async (): Promise<void> => {
    child.kill('SIGTERM');
    if (!(await waitGone(child.pid, 5000))) child.kill('SIGKILL');
  };
  const exited = new Promise<{ exitCode: number; signal?: number }>((resolve) => child.onExit(resolve));
  // A guest asked to stop that reports its halt failed has synced and made / read-only (oklinux-init's
  // halt_now): the VMM is ended now rather than after the grace period. Only while a stop is asked for, so
  // a guest printing the line can end nothing but a VM the user is already stopping.
  let ending = false;
  const haltLine = (line: string): void => {
    if (!stopRequested || ending || !HALT_FAILED.test(line)) return;
    ending = true;
    void terminate();
  };
  const consoleLine = consoleLines(remote.line, guestNet.line, haltLine);
  child.onData((data) => {
    sawOutput = true;
    writeLog(data);
    consoleLine(data);
    if (!panic) {
      recent = (recent + data).slice(-4096);
      panic = /Kernel panic - not syncing: ([^\r\n]*)[\r\n]/.exec(recent)?.[1] ?? null;
    }
    broadcast({ type: 'data', data });
  });

  const watchdog = setTimeout(() => {
    if (sawOutput) return;
    const message = `The VM "${plan.vm}" printed nothing on its console within ${Math.round(plan.watchdogMs / 1000)} s. ${plan.watchdogHint}`;
    try {
      store.vms.update(plan.vm, { lastError: message });
    } catch {
      // the warning still reaches the clients
    }
    broadcast({ type: 'warning', message });
  }, plan.watchdogMs);
  watchdog.unref();

  const stop = async (force: boolean): Promise<void> => {
    const first = !stopRequested;
    stopRequested = true;
    try {
      if (first) store.vms.transition(plan.vm, ['running', 'starting'], 'stopping');
    } catch {
      // the state is recorded when the VMM exits; the stop itself must go on
    }
    if (force) {
      child.kill('SIGKILL');
      return;
    }
    if (!first) return;
    // The guest powers off when it sees the power button. One still booting misses a press (nothing
    // listens yet), so it is pressed again every few seconds until the grace period ends.
    const end = Date.now() + plan.gracefulMs;
    do {
      await askGuestToPowerOff(plan).catch(() => undefined);
      if (await waitGone(child.pid, Math.max(0, Math.min(end - Date.now(), POWER_BUTTON_REPEAT_MS)))) return;
    } while (Date.now() < end);
    await terminate();
  };

  fs.rmSync(plan.consoleSocket, { force: true });
  const server = net.createServer((sock) => {
    clients.add(sock);
    sock.on('close', () => clients.delete(sock));
    sock.on('error', () => clients.delete(sock));
    send(sock, { type: 'hello', pid: child.pid, state: stopRequested ? 'stopping' : 'running' });
    onLines<ClientMessage>(sock, (msg) => {
      if (msg.type === 'input' && typeof msg.data === 'string') child.write(msg.data);
      else if (msg.type === 'resize' && validSize(msg.cols) && validSize(msg.rows)) child.resize(msg.cols, msg.rows);
      else if (msg.type === 'stop') void stop(msg.force === true);
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(plan.consoleSocket, () => resolve());
    });
  } catch (e) {
    guard?.close();
    void relay?.close();
    child.kill('SIGKILL');
    throw e;
  }

  // Running only once clients can reach the console.
  store.vms.update(plan.vm, {
    state: 'running',
    pid: child.pid,
    supervisorPid: process.pid,
    argv: [plan.bin, ...plan.args],
    controlSocket: plan.controlSocket,
    startedAt: new Date().toISOString(),
    exitCode: null,
    exitSignal: null,
    lastError: null,
  });
  store.events.append('vm.started', plan.vm, { pid: child.pid, argv: [plan.bin, ...plan.args] });

  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => void stop(false));

  const exit = await exited;
  clearTimeout(watchdog);
  guard?.close();
  await relay?.close();
  remote.end();
  for (const dir of plan.setIdScrub ?? []) {
    try {
      scrubTree(dir).cleared.forEach(noteCleared);
    } catch (e) {
      process.stderr.write(`warning: cannot scan ${dir} for set-id files: ${(e as Error).message}\n`);
    }
  }
  if (setIdCount) {
    try {
      store.events.append('vm.setid-cleared', plan.vm, { files: setIdCleared, count: setIdCount });
    } catch {
      // already in supervisor.log
    }
  }
  const sig = exit.signal ? signalName(exit.signal) : null;
  const crashed = panic !== null || (!stopRequested && (exit.exitCode !== 0 || sig !== null));
  const state = crashed ? 'crashed' : 'stopped';
  const how = sig ? `was killed by ${sig}` : `exited with code ${exit.exitCode}`;
  const tail = lastLines(currentBoot(tailLog(plan.logFile, 4096)), 20);
  const lastError = panic
    ? `${explainPanic(panic)}\nThe kernel said: "Kernel panic - not syncing: ${panic}". The console's last lines:\n${tail}`
    : crashed
      ? `The VMM ${how}. The console's last lines:\n${tail}`
      : null;
  store.vms.update(plan.vm, {
    state,
    pid: null,
    supervisorPid: null,
    exitCode: sig ? null : exit.exitCode,
    exitSignal: sig,
    guestAddress: null,
    ...(crashed ? { lastError } : {}),
  });
  store.events.append(crashed ? 'vm.crashed' : 'vm.stopped', plan.vm, { code: exit.exitCode, signal: sig });
  broadcast({ type: 'exit', state, code: sig ? null : exit.exitCode, signal: sig });
  for (const c of clients) c.end();
  server.close();
  fs.rmSync(plan.consoleSocket, { force: true });
  log.close();
  store.close();
}

const validSize = (n: unknown): n is number => Number.isInteger(n) && (n as number) > 0 && (n as number) <= 1000;

/** A panic line in plain language. */
export function explainPanic(line: string): string {
  if (/VFS: Unable to mount root fs/.test(line)) {
    return (
      'The guest kernel could not mount its root filesystem. For a 9p root this means the kernel lacks 9p ' +
      'support (CONFIG_9P_FS and CONFIG_NET_9P_VIRTIO built in, or their modules in an initrd), or the root ' +
      'share is missing. okLinux kernels have 9p built in: use an okLinux release, or add an initrd that loads the modules.'
    );
  }
  if (/No working init found|Attempted to kill init/.test(line)) {
    return "The guest's init failed or exited: check that the root has /sbin/oklinux-init and /bin/sh.";
  }
  return 'The guest kernel panicked.';
}

function lastLines(text: string, n: number): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
  return clean.split('\n').slice(-n).join('\n').trim();
}

/** Ask the guest to shut down: ACPI power button through QMP, or `bldy powerbtn`. */
async function askGuestToPowerOff(plan: LaunchPlan): Promise<void> {
  if (plan.backend === 'qemu') {
    const qmp = await connectQmp(plan.controlSocket, { timeoutMs: 3000 });
    try {
      await qmp.execute('system_powerdown');
    } finally {
      qmp.close();
    }
    return;
  }
  const [powerbtn] = bldyStopArgv(plan.controlSocket);
  await new Promise<void>((resolve) => execFile(plan.bin, powerbtn, { timeout: 5000 }, () => resolve()));
}
