import type { Command } from '../framework';

/** `oklinux __supervise PLAN`: a VM's supervisor process (bin/oklinux.cjs usually runs it without the CLI). */
export const superviseCommand: Command = {
  name: '__supervise',
  usage: '__supervise <plan.json>',
  summary: 'Internal: run a VM supervisor (started by "oklinux start").',
  async run(_io, { positionals }) {
    const { superviseFromFile } = await import('@core/vm/supervise-main');
    await superviseFromFile(positionals[0]!);
  },
};
