/** A VM's serial console on the terminal (`oklinux console`, `start --attach`, `run`). */
import { OkError } from '@contract/errors';
import type { CliIO, EngineLink } from './framework';

/** Ctrl-] detaches from a console, as in telnet and virsh. */
export const DETACH_KEY = '\x1d';

/**
 * Attach the terminal to a VM's console until the VM stops or the user presses
 * Ctrl-]. Resolves with the VM's final state (or 'detached').
 */
export async function attachConsole(io: CliIO, engine: EngineLink, name: string, allowEnded = false): Promise<string> {
  const stdin = process.stdin;
  let vmNow = await engine.invoke('vms:get', { name });
  // being started by another process (perhaps still downloading): wait until it runs
  while (vmNow.state === 'starting') {
    await new Promise((r) => setTimeout(r, 200));
    vmNow = await engine.invoke('vms:get', { name });
  }
  if (vmNow.state === 'crashed' && allowEnded) {
    io.stdout.write((await engine.invoke('console:attach', { name })).tail.slice(-4096));
    return 'crashed';
  }
  if (vmNow.state !== 'running') {
    throw new OkError('CONFLICT', `The VM "${name}" is ${vmNow.state}; start it with "oklinux start ${name}".`);
  }
  if (!io.json) io.stderr.write(`Connected to ${name}'s console. Detach with Ctrl-]. \r\n`);
  return new Promise<string>((resolve, reject) => {
    let done = false;
    const finish = (how: string): void => {
      if (done) return;
      done = true;
      off();
      stdin.off('data', onInput);
      if (stdin.isTTY) stdin.setRawMode(false);
      stdin.pause();
      resolve(how);
    };
    const off = engine.onEvent((e) => {
      if (e.type === 'console:data' && e.vm === name) io.stdout.write(e.data);
      if (e.type === 'vm:state' && e.vm.name === name && (e.vm.state === 'stopped' || e.vm.state === 'crashed')) {
        finish(e.vm.state);
      }
    });
    const onInput = (d: Buffer): void => {
      const s = d.toString('utf8');
      const cut = s.indexOf(DETACH_KEY);
      const data = cut >= 0 ? s.slice(0, cut) : s;
      if (data) engine.invoke('console:write', { name, data }).catch(() => undefined);
      if (cut >= 0) {
        if (!io.json) io.stderr.write('\r\nDetached; the VM keeps running.\r\n');
        finish('detached');
      }
    };
    engine
      .invoke('console:attach', { name })
      .then(({ tail }) => {
        io.stdout.write(tail.slice(-4096));
        if (stdin.isTTY) {
          stdin.setRawMode(true);
          const cols = (io.stdout as { columns?: number }).columns;
          const rows = (io.stdout as { rows?: number }).rows;
          if (cols && rows) engine.invoke('console:resize', { name, cols, rows }).catch(() => undefined);
        }
        stdin.on('data', onInput);
        stdin.resume();
        // it may have ended before the subscription was in place
        return engine.invoke('vms:get', { name }).then((v) => {
          if (v.state === 'stopped' || v.state === 'crashed') finish(v.state);
        });
      })
      .catch(reject);
  });
}
