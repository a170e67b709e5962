/**
 * Quitting with VMs running: ask whether to stop them or leave them running.
 * Leaving them is safe, because VMs run under their own supervisor processes and
 * the next start reconciles them. Whatever the answer (except Cancel), the
 * window state is saved and the engine closed before the process exits.
 */
export type QuitChoice = 'stop' | 'leave' | 'cancel';

export interface QuitDeps {
  runningVms(): Promise<string[]>;
  ask(names: string[]): Promise<QuitChoice>;
  stopVm(name: string): Promise<void>;
  /** Save state, close the engine. */
  beforeExit(): Promise<void>;
  exit(code: number): void;
  /** Report a failure to the user before exiting. */
  report(message: string): void;
}

/** The `before-quit` listener: it always takes over the quit, then exits itself (once). */
export function createQuitHandler(deps: QuitDeps): (event: { preventDefault(): void }) => void {
  let busy = false;
  const run = async (): Promise<void> => {
    const running = await deps.runningVms();
    if (running.length > 0) {
      const choice = await deps.ask(running);
      if (choice === 'cancel') return;
      if (choice === 'stop') {
        const results = await Promise.allSettled(running.map((name) => deps.stopVm(name)));
        const failed = results.flatMap((r, i) =>
          r.status === 'rejected' ? [`${running[i]}: ${String(r.reason)}`] : [],
        );
        if (failed.length) deps.report(`These VMs could not be stopped and are left running:\n${failed.join('\n')}`);
      }
    }
    await deps.beforeExit();
    deps.exit(0);
  };
  return (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    run().then(
      () => (busy = false),
      (e: unknown) => {
        deps.report(`okLinux Desktop could not quit cleanly: ${e instanceof Error ? e.message : String(e)}`);
        deps.exit(1);
      },
    );
  };
}

export function quitQuestion(names: string[]): { message: string; detail: string } {
  const n = names.length;
  return {
    message: n === 1 ? `The VM ${names[0]} is still running.` : `${n} VMs are still running.`,
    detail:
      (n === 1 ? '' : `${names.join(', ')}\n\n`) +
      'Stop them now, or leave them running in the background: okLinux Desktop finds them again the next time it starts.',
  };
}
