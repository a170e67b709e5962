// The app's start as bench:vm times it (bench/vm.mjs's launch lines and bench/vm-boot.mjs's boot lines):
// `oklinux start <vm>` spawned as a child, and the VM's console.log polled every 5 ms for what the VM printed
// after the supervisor's boot marker of this start.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { OKLINUX_BIN } from '../test/helpers/cli.ts';
import { processesMentioning } from '../test/helpers/vm.ts';

const BOOT_MARKER = '[oklinux] ---- VM started ';
const CLK_TCK = 100; // /proc/<pid>/stat start times are in USER_HZ ticks, 100 on Linux

export const nowSecs = () => Number(process.hrtime.bigint()) / 1e9;

/** Start time of a process, in seconds on the clock of process.hrtime (CLOCK_MONOTONIC); undefined once gone. */
function procStart(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** The processes mentioning `home` (the supervisor, the VMM), each with its start time (procStart). */
export const procStarts = (home) => processesMentioning(home).map((p) => ({ ...p, start: procStart(p.pid) }));

/**
 * Spawns `oklinux start <vm>` at run.t0; run.out gathers its stdout and stderr, run.exitSecs is when it exited
 * (seconds after t0). The size of the VM's console.log is taken before t0, so only this start's text is followed.
 */
export function startApp(env, home, vm) {
  const log = path.join(home, 'vms', vm, 'console.log');
  const from = fs.existsSync(log) ? fs.statSync(log).size : 0;
  const t0 = nowSecs();
  const cli = spawn(process.execPath, [OKLINUX_BIN, 'start', vm], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const run = { vm, log, from, t0, cli, out: '', exitSecs: undefined };
  cli.stdout.on('data', (d) => (run.out += d));
  cli.stderr.on('data', (d) => (run.out += d));
  cli.on('close', () => (run.exitSecs = nowSecs() - t0));
  return run;
}

/**
 * Polls the console.log of `run` (startApp) every 5 ms, handing onBoot all the text after the supervisor's boot
 * marker, until onBoot returns true; returns the seconds from run.t0 to then. Fails after timeoutSecs, or when
 * the CLI exits with an error, with `no <awaiting> after "oklinux start <vm>"`, the CLI's output and context().
 */
export async function followBoot(run, { timeoutSecs, awaiting, context = () => '', onBoot }) {
  let from = run.from;
  for (;;) {
    if (nowSecs() > run.t0 + timeoutSecs || run.cli.exitCode > 0)
      throw new Error(`no ${awaiting} after "oklinux start ${run.vm}"\n${run.out}${context()}`);
    await new Promise((r) => setTimeout(r, 5));
    if (!fs.existsSync(run.log)) continue;
    if (fs.statSync(run.log).size < from) from = 0; // rotated
    const text = fs.readFileSync(run.log).subarray(from).toString('utf8');
    const marker = text.indexOf(BOOT_MARKER);
    const eol = marker < 0 ? -1 : text.indexOf('\n', marker);
    if (eol < 0) continue;
    if (onBoot(text.slice(eol + 1))) return nowSecs() - run.t0;
  }
}
