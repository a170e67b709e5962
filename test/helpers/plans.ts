/**
 * Launch plans for the supervisor-entry tests: a data dir with one VM row and
 * plans whose `bin` would create a marker file if it ran, written every way an
 * attacker could try (outside run/, through a symlink, unsigned, signed with
 * another key, edited after signing) next to one the engine's own signer wrote.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Store } from '@core/store';
import type { LaunchPlan } from '@core/vm/supervisor';
import { writeSignedPlan } from '@core/vm/plan-auth';

export interface PlanCase {
  name: string;
  file: string;
  /** What the refusal message says. */
  refusal: RegExp;
}

export interface PlanWorld {
  home: string;
  marker: string;
  /** A plan the engine's signer wrote under run/: it runs. */
  good: string;
  bad: PlanCase[];
}

/** A plan for VM `sv` whose VMM is `sh -c "touch <marker>"`. */
export function markerPlan(home: string, marker: string, runDir: string): LaunchPlan {
  return {
    vm: 'sv',
    dbFile: path.join(home, 'oklinux.db'),
    backend: 'qemu',
    bin: '/bin/sh',
    args: ['-c', `touch '${marker}'`],
    cwd: runDir,
    controlSocket: path.join(runDir, 'qmp.sock'),
    consoleSocket: path.join(runDir, 'console.sock'),
    logFile: path.join(home, 'vms', 'sv', 'console.log'),
    gracefulMs: 1000,
    watchdogMs: 60_000,
    watchdogHint: '',
  };
}

export function planWorld(dir: string): PlanWorld {
  const home = path.join(dir, 'home');
  const marker = path.join(dir, 'bin-ran');
  const elsewhere = path.join(dir, 'elsewhere');
  const otherHome = path.join(dir, 'other-home');
  for (const d of [path.join(home, 'vms', 'sv'), elsewhere, otherHome]) fs.mkdirSync(d, { recursive: true });
  const store = new Store(path.join(home, 'oklinux.db'));
  store.vms.create({
    name: 'sv',
    image: 'none',
    cpus: 1,
    memoryMiB: 64,
    append: '',
    backend: 'qemu',
    accel: 'tcg',
    net: 'none',
    rootDir: null,
  });
  store.close();
  const run = (id: string): string => {
    const d = path.join(home, 'run', id);
    fs.mkdirSync(d, { recursive: true });
    return d;
  };
  const plan = (d: string) => markerPlan(home, marker, d);

  const good = path.join(run('1'), 'launch.json');
  writeSignedPlan(good, plan(path.dirname(good)), home);

  const outside = path.join(elsewhere, 'launch.json');
  writeSignedPlan(outside, plan(elsewhere), home); // the right key, the wrong place

  const link = path.join(run('2'), 'launch.json');
  fs.symlinkSync(outside, link);

  const unsigned = path.join(run('3'), 'launch.json');
  fs.writeFileSync(unsigned, JSON.stringify(plan(path.dirname(unsigned)))); // the old format

  const otherKey = path.join(run('4'), 'launch.json');
  writeSignedPlan(otherKey, plan(path.dirname(otherKey)), otherHome);

  const edited = path.join(run('5'), 'launch.json');
  writeSignedPlan(edited, { ...plan(path.dirname(edited)), bin: '/bin/echo' }, home);
  const signed = JSON.parse(fs.readFileSync(edited, 'utf8')) as { plan: string };
  const p = JSON.parse(signed.plan) as LaunchPlan;
  fs.writeFileSync(edited, JSON.stringify({ ...signed, plan: JSON.stringify({ ...p, bin: '/bin/sh' }) }));

  const badMac = path.join(run('6'), 'launch.json');
  writeSignedPlan(badMac, plan(path.dirname(badMac)), home);
  const bm = JSON.parse(fs.readFileSync(badMac, 'utf8')) as { mac: string };
  fs.writeFileSync(badMac, JSON.stringify({ ...bm, mac: `${bm.mac.slice(0, 63)}${bm.mac.endsWith('0') ? '1' : '0'}` }));

  const notRun = /is not inside the data directory's .*\/run/;
  return {
    home,
    marker,
    good,
    bad: [
      { name: 'a plan outside run/', file: outside, refusal: notRun },
      { name: 'a symlink under run/ to a plan elsewhere', file: link, refusal: notRun },
      { name: 'a plan with no MAC', file: unsigned, refusal: /carries no MAC/ },
      { name: 'a plan signed with another key', file: otherKey, refusal: /MAC does not match/ },
      { name: 'a plan with a wrong MAC', file: badMac, refusal: /MAC does not match/ },
      { name: 'a plan whose bin was edited after signing', file: edited, refusal: /MAC does not match/ },
    ],
  };
}
