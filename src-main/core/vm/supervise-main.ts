/**
 * The supervisor's own entry point (`oklinux __supervise <plan.json>` takes this
 * path without loading the CLI; the packaged app's `--oklinux-supervise` ends up
 * here too): accept only a launch plan this data directory's engine signed (see
 * plan-auth.ts), check the files it boots against their digests once more, then
 * run the supervisor. Nothing is spawned before both checks pass.
 */
import { checkPinned } from '@core/images/integrity';
import { loadSignedPlan } from './plan-auth';
import { runSupervisor } from './supervisor';

export async function superviseFromFile(planFile: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const plan = loadSignedPlan(planFile, env);
  for (const pin of plan.verify ?? []) await checkPinned(pin);
  await runSupervisor(plan);
}
