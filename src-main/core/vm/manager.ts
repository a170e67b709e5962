/**
 * VM lifecycle on the engine side: create, start (through a detached
 * supervisor), stop, remove, reconcile after crashes, and console access. The
 * state lives in SQLite, so any front end (or several at once) sees the same VMs.
 *
 * This folder (core/vm/) is a VM's life: create and launch (create.ts), what a start would run
 * (plan.ts), the start through a detached supervisor (supervisor.ts; supervise-main.ts is that process's
 * entry), stop, remove, reconcile and the console. What differs between backends comes from vmm/; the
 * share rules from shares/.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Vm } from '@contract';
import type { EngineContext } from '@core/context';
import { OkError } from '@contract/errors';
import type { VmRow } from '@core/store';
import type { ShareSpec, VmmBackend } from '@core/vmm/types';
import { ConsoleClient } from './client';
import { currentBoot, tailLog } from './console-log';
import { isAlive, runsArgv, signal, waitGone } from './proc';
import { writeSignedPlan } from './plan-auth';
import { removalFailed, removeVmFiles } from './remove-tree';
import { openPrivateFile } from '@core/datadir';
import { ensureSocketDir } from '@core/run-dir';
import { startWarnings } from '@core/shares/suid';
// plan.ts (and through it roots, disks, tar and the VMM argv) is loaded by what starts or stops a VM,
// not by listing VMs: `oklinux ls` stays fast (bench/cli.mjs)
import type { BootImage, PlannedStart, VmRoot } from './plan';
const planning = () => import('./plan');
import { waitUntil } from '@core/wait';
import { toVm } from './vm-view';

export type { BootImage, PlannedStart } from './plan';
export { toVm } from './vm-view';

/** How to start a supervisor process: `command args… <plan file>`. */
export interface SupervisorLauncher {
  command: string;
  args: string[];
}

export interface VmManagerOptions {
  /** Resolve (and, unless `pull` is false, download) the image a VM boots. */
  resolveImage(ref: string, opts: { pull: boolean; signal?: AbortSignal }): Promise<BootImage>;
  /** Prepare the VM's root (a 9p directory or an ext4 disk), if it has one; returns which and where. */
  prepareRoot?(vm: VmRow, image: BootImage, shares: ShareSpec[]): Promise<VmRoot | null>;
  launcher: SupervisorLauncher;
  /** Folders of the app's own code (sources, node_modules, resources): no guest-writable share may touch them. */
  appDirs?: string[];
  /** The remote-share relay client's argv (see plan.ts `PlanDeps`). */
  relayClient?: string[];
}

export class VmManager {
  /** Starts under way in this process, so a stop can cancel their downloads. */
  private readonly starting = new Map<string, AbortController>();
  /** One console connection per running VM; concurrent callers share the connection being opened. */
  private readonly monitors = new Map<string, Promise<ConsoleClient>>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly opts: VmManagerOptions,
  ) {}

  private get store() {
    return this.ctx.store;
  }

  vm(name: string): Vm {
    const row = this.store.vms.get(name);
    return toVm(row, row.state !== 'stopped' && row.state !== 'crashed' && row.restartNeeded, this.ctx.paths);
  }

  private emit(name: string): void {
    const row = this.store.vms.find(name);
    if (row) this.ctx.bus.emit({ type: 'vm:state', vm: this.vm(name) });
  }

  /**
   * Bring recorded state in line with reality: a VM whose VMM is alive (pid alive
   * and running the recorded argv) is running; one whose VMM and supervisor are
   * both gone is stopped (if it was stopping) or crashed.
   */
  reconcile(name?: string): void {
    const rows = name ? [this.store.vms.get(name)] : this.store.vms.list();
    for (const vm of rows) {
      if (vm.state === 'stopped' || vm.state === 'crashed') continue;
      const vmmAlive = runsArgv(vm.pid, vm.argv);
      const ownerAlive = isAlive(vm.supervisorPid);
      if (vmmAlive) {
        if (vm.state === 'starting') this.store.vms.update(vm.name, { state: 'running' });
        continue;
      }
      if (ownerAlive) continue; // the supervisor (or the starter) is still at work and will record the outcome
      const wasStopping = vm.state === 'stopping';
      const starting = vm.state === 'starting' && vm.pid === null;
      this.store.vms.update(vm.name, {
        state: wasStopping || starting ? 'stopped' : 'crashed',
        pid: null,
        supervisorPid: null,
        lastError: wasStopping
          ? null
          : starting
            ? 'The start was interrupted before the VMM ran.'
            : `The VMM (pid ${vm.pid ?? '?'}) ended while no okLinux process was watching it. See "oklinux logs ${vm.name}".`,
      });
      this.store.events.append('vm.reconciled', vm.name, { from: vm.state });
      this.emit(vm.name);
    }
  }

  list(): Vm[] {
    this.reconcile();
    return this.store.vms.list().map((r) => this.vm(r.name));
  }

  /** Work out exactly what would run: backend, binary, argv (see plan.ts). Nothing is started. */
  plan(
    vm: VmRow,
    opts: { pull: boolean; backend?: VmmBackend; prepare: boolean; signal?: AbortSignal },
  ): Promise<PlannedStart> {
    return planning().then(({ planStart }) => planStart(this.ctx, this.opts, vm, opts));
  }

  /** Start a VM: claim it atomically, pull what is missing, then hand it to a supervisor. */
  async start(name: string): Promise<Vm> {
    this.reconcile(name);
    const claimed = this.store.tx(() => {
      if (!this.store.vms.transition(name, ['stopped', 'crashed'], 'starting')) return false;
      this.store.vms.update(name, { supervisorPid: process.pid, pid: null, lastError: null });
      return true;
    });
    if (!claimed) {
      throw new OkError('CONFLICT', `The VM "${name}" is already ${this.store.vms.get(name).state}.`);
    }
    this.emit(name);
    const abort = new AbortController();
    this.starting.set(name, abort);
    let startedSupervisor: number | null = null;
    try {
      const vm = this.store.vms.get(name);
      const planned = await this.plan(vm, { pull: true, prepare: true, signal: abort.signal });
      const { guestWritableShares, launchPlan } = await planning();
      if (abort.signal.aborted) throw new OkError('CANCELLED', `The start of "${name}" was cancelled.`);
      const runDir = planned.spec.runDir;
      fs.mkdirSync(runDir, { recursive: true, mode: 0o700 });
      ensureSocketDir(this.ctx.paths, vm.id);
      fs.mkdirSync(this.ctx.paths.vmDir(name), { recursive: true, mode: 0o700 });
      const rwShares = guestWritableShares(planned);
      fs.rmSync(planned.spec.controlSocket, { force: true });
      const plan = launchPlan(this.ctx, vm, planned);
      // signed: the supervisor runs only a plan under run/ with this data dir's MAC (plan-auth.ts)
      const planFile = path.join(runDir, 'launch.json');
      writeSignedPlan(planFile, plan, this.ctx.paths.root);
      this.store.applyPending(name);
      const supLog = openPrivateFile(path.join(runDir, 'supervisor.log'));
      let sup;
      try {
        // node:child_process loads when a VM starts, not for every command (`oklinux ls`)
        sup = process
          .getBuiltinModule('node:child_process')
          .spawn(this.opts.launcher.command, [...this.opts.launcher.args, planFile], {
            detached: true,
            stdio: ['ignore', 'ignore', supLog],
            // the supervisor finds the data dir (and its key) as the app does: say which one (--home)
            env: { ...this.ctx.env, OKLINUX_HOME: path.resolve(this.ctx.paths.root) },
          });
      } finally {
        fs.closeSync(supLog);
      }
      sup.once('error', () => undefined); // reported below through the missing pid
      sup.unref();
      const supPid = sup.pid;
      if (!supPid) throw new OkError('VMM', `Could not start the supervisor for "${name}".`);
      startedSupervisor = supPid;
      // Wait for the supervisor to spawn the VMM (or fail).
      const ran = await waitUntil(
        () => {
          if (this.store.vms.get(name).state !== 'starting') return true;
          if (isAlive(supPid)) return false;
          const log = tailLog(path.join(runDir, 'supervisor.log'), 2000).trim();
          throw new OkError(
            'VMM',
            `The supervisor for "${name}" exited before the VMM started.${log ? `\n${log}` : ''}`,
          );
        },
        { every: 25, within: 60_000 },
      );
      if (!ran) throw new OkError('TIMEOUT', `The VM "${name}" did not start within 60 s.`);
      this.emit(name);
      const rootDir = planned.spec.rootShare?.hostPath ?? null;
      for (const message of startWarnings({ vm: name, rwShares, rootDir, dataDir: this.ctx.paths.root })) {
        this.ctx.bus.emit({ type: 'warning', vm: name, message });
      }
      await this.monitor(name).catch(() => undefined);
      return this.vm(name);
    } catch (e) {
      // a supervisor that did not get the VM running must not linger (its VMM dies with its pty)
      if (startedSupervisor && isAlive(startedSupervisor)) signal(startedSupervisor, 'SIGKILL');
      const row = this.store.vms.get(name);
      if (row.state === 'starting') {
        this.store.vms.update(name, {
          state: 'stopped',
          supervisorPid: null,
          lastError: e instanceof Error ? e.message : String(e),
        });
        this.emit(name);
      }
      throw e;
    } finally {
      this.starting.delete(name);
    }
  }

  /** Keep a console connection to a running VM: relays console data and state changes as events. */
  async monitor(name: string): Promise<ConsoleClient | null> {
    const existing = this.monitors.get(name);
    if (existing) return existing;
    const row = this.store.vms.get(name);
    if (row.state !== 'running' && row.state !== 'stopping') return null;
    const sockPath = this.ctx.paths.socket(row.id, 'console.sock');
    const opening = ConsoleClient.connect(sockPath, (m) => {
      if (m.type === 'data') this.ctx.bus.emit({ type: 'console:data', vm: name, data: m.data });
      else if (m.type === 'exit' || m.type === 'warning' || m.type === 'hello') this.emit(name);
    });
    this.monitors.set(name, opening);
    let client: ConsoleClient;
    try {
      client = await opening;
    } catch (e) {
      this.monitors.delete(name);
      throw e;
    }
    client.onClose(() => {
      if (this.monitors.get(name) === opening) this.monitors.delete(name);
      // the supervisor records the exit just before closing; give it a moment
      setTimeout(() => {
        if (this.store.db.open && this.store.vms.find(name)) {
          this.reconcile(name);
          this.emit(name);
        }
      }, 50);
    });
    return client;
  }

  async stop(name: string, force: boolean): Promise<Vm> {
    this.reconcile(name);
    let row = this.store.vms.get(name);
    if (row.state === 'stopped' || row.state === 'crashed') return this.vm(name);
    const pending = this.starting.get(name);
    if (pending && row.state === 'starting') {
      // Still pulling (or handing over to the supervisor) in this process: cancel, then stop what started.
      pending.abort();
      await waitUntil(() => !this.starting.has(name), { every: 25, within: 60_000 });
    } else if (row.state === 'starting') {
      // Another process is starting it (pulling, perhaps): wait until it runs or gives up, then stop it.
      await waitUntil(
        () => {
          this.reconcile(name);
          return this.store.vms.get(name).state !== 'starting';
        },
        { every: 100, within: 10 * 60_000 },
      );
      if (this.store.vms.get(name).state === 'starting') {
        throw new OkError('TIMEOUT', `The VM "${name}" is still starting in another okLinux process; try again later.`);
      }
    }
    row = this.store.vms.get(name);
    if (row.state === 'stopped' || row.state === 'crashed') return this.vm(name);
    const timeout = (await planning()).envMs(this.ctx.env, 'OKLINUX_STOP_GRACE_MS', 30_000) + 10_000;
    if (isAlive(row.supervisorPid) && row.state !== 'starting') {
      const client = await this.monitor(name);
      client?.send({ type: 'stop', force });
      if (row.pid && !(await waitGone(row.pid, timeout))) {
        throw new OkError('TIMEOUT', `The VM "${name}" did not stop within ${Math.round(timeout / 1000)} s.`);
      }
      // wait for the supervisor to record the outcome
      await waitUntil(() => !['running', 'stopping'].includes(this.store.vms.get(name).state), {
        every: 25,
        within: 5000,
      });
      if (row.supervisorPid) await waitGone(row.supervisorPid, 5000);
    } else if (row.pid && runsArgv(row.pid, row.argv)) {
      // No supervisor (it died): stop the VMM directly.
      this.store.vms.update(name, { state: 'stopping' });
      signal(row.pid, force ? 'SIGKILL' : 'SIGTERM');
      if (!(await waitGone(row.pid, force ? 5000 : 10_000))) signal(row.pid, 'SIGKILL');
      await waitGone(row.pid, 5000);
      this.store.vms.update(name, { state: 'stopped', pid: null, supervisorPid: null });
    }
    this.reconcile(name);
    this.emit(name);
    return this.vm(name);
  }

  /**
   * Remove a VM: its files first (run directory, console logs, and its root unless `keepRoot`),
   * and only when they are all gone its row. A VM whose files cannot all be removed stays, with
   * what is left and how to fix it in its lastError, so "rm" can be run again; a new VM of the
   * same name never inherits half a root.
   */
  async remove(name: string, keepRoot: boolean): Promise<void> {
    this.reconcile(name);
    const before = this.store.vms.get(name);
    // "stopping", owned by this process, while files go: a racing start is refused, not let in
    const claimed = this.store.tx(() => {
      if (!this.store.vms.transition(name, ['stopped', 'crashed'], 'stopping')) return false;
      this.store.vms.update(name, { supervisorPid: process.pid });
      return true;
    });
    if (!claimed) {
      const st = this.store.vms.get(name).state;
      throw new OkError('CONFLICT', `The VM "${name}" is ${st}; stop it first ("oklinux stop ${name}").`);
    }
    const failures = await removeVmFiles({
      runDir: this.ctx.paths.runDir(before.id),
      vmDir: this.ctx.paths.vmDir(name),
      keepRoot,
    });
    if (failures.length) {
      const message = removalFailed(name, keepRoot, failures);
      this.store.vms.update(name, { state: before.state, supervisorPid: null, lastError: message });
      this.emit(name);
      throw new OkError('DATA_DIR', message);
    }
    // a socket folder outside run/ (long data dir paths) holds only sockets
    fs.rmSync(this.ctx.paths.socketDir(before.id), { recursive: true, force: true });
    this.store.vms.remove(name);
    this.store.events.append('vm.removed', name, { keepRoot });
  }

  logs(name: string, bytes = 64 * 1024): string {
    this.store.vms.get(name);
    return tailLog(this.ctx.paths.consoleLog(name), bytes);
  }

  async attach(name: string): Promise<{ tail: string }> {
    this.reconcile(name);
    await this.monitor(name).catch(() => undefined);
    const row = this.store.vms.get(name);
    const running = row.state === 'running' || row.state === 'starting' || row.state === 'stopping';
    const tail = this.logs(name, 256 * 1024);
    return { tail: running ? currentBoot(tail) : tail };
  }

  /** Nothing to undo: console data goes out as events to whoever listens (the contract's console:detach). */
  detach(_name: string): void {
    // a front end that leaves a console just stops listening
  }

  async write(name: string, data: string): Promise<void> {
    const client = await this.requireConsole(name);
    client.send({ type: 'input', data });
  }

  async resize(name: string, cols: number, rows: number): Promise<void> {
    const client = await this.requireConsole(name);
    client.send({ type: 'resize', cols, rows });
  }

  private async requireConsole(name: string): Promise<ConsoleClient> {
    this.reconcile(name);
    const client = await this.monitor(name);
    if (!client) {
      throw new OkError(
        'CONFLICT',
        `The VM "${name}" is ${this.store.vms.get(name).state}; start it to use its console.`,
      );
    }
    return client;
  }

  close(): void {
    for (const c of this.monitors.values())
      c.then(
        (client) => client.close(),
        () => undefined,
      );
    this.monitors.clear();
  }
}
