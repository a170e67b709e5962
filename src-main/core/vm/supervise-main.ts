/**
 * The supervisor's own entry point (`oklinux __supervise <plan.json>` takes this
 * path without loading the CLI): read the launch plan, run the supervisor.
 */
import fs from 'node:fs';
import { runSupervisor, type LaunchPlan } from './supervisor';

export async function superviseFromFile(planFile: string): Promise<void> {
  const plan = JSON.parse(fs.readFileSync(planFile, 'utf8')) as LaunchPlan;
  await runSupervisor(plan);
}
