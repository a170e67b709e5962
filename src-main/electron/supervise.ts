/**
 * VM supervisors in the packaged app. RunAsNode is fused off, so a supervisor is
 * the app's own binary started with a flag: main.ts sees the flag first and runs
 * the supervisor instead of the app (no window, no single-instance lock).
 */
import type { SupervisorLauncher } from '@core/vm/manager';
import { OkError } from '@contract/errors';
import { SUPERVISE_FLAG } from './channels';

/** The same entry as `oklinux __supervise`: only a plan the engine signed, under the data dir's run/, runs. */
export { superviseFromFile } from '@core/vm/supervise-main';

/**
 * How the engine starts a supervisor from Electron. An AppImage's binary lives
 * on a mount that disappears when the app exits, so there the AppImage file
 * itself is started; in development Electron needs the app's path first.
 */
export function electronLauncher(
  app: { isPackaged: boolean; getAppPath(): string },
  execPath: string = process.execPath,
  env: NodeJS.ProcessEnv = process.env,
): SupervisorLauncher {
  if (!app.isPackaged) return { command: execPath, args: [app.getAppPath(), SUPERVISE_FLAG] };
  return { command: env.APPIMAGE || execPath, args: [SUPERVISE_FLAG] };
}

/** The plan file when argv asks for a supervisor, else null. */
export function supervisePlanArg(argv: string[]): string | null {
  const i = argv.indexOf(SUPERVISE_FLAG);
  if (i < 0) return null;
  const plan = argv[i + 1];
  if (!plan) throw new OkError('INVALID_INPUT', `${SUPERVISE_FLAG} needs the path of a launch plan.`);
  return plan;
}
