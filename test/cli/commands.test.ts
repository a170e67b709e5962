/**
 * The CLI's command table (src-main/cli/commands/index.ts): `oklinux --help` lists every command from the
 * table without loading their modules, each entry loads the command it names, and the table's summary is
 * the command's own.
 */
import { describe, expect, it } from 'vitest';
import { commands } from '../../src-main/cli/commands';
import { main } from '../../src-main/cli/main';

function sink(): NodeJS.WritableStream & { text: string } {
  const s = {
    text: '',
    write(chunk: string | Uint8Array) {
      s.text += chunk.toString();
      return true;
    },
  };
  return s as unknown as NodeJS.WritableStream & { text: string };
}

describe('the command table', () => {
  it('loads, for each entry, the command of that name, whose summary is the one the table lists', async () => {
    for (const entry of commands) {
      const cmd = await entry.load();
      expect(cmd.name, entry.name).toBe(entry.name);
      expect(cmd.summary, entry.name).toBe(entry.summary);
    }
    expect(new Set(commands.map((c) => c.name)).size).toBe(commands.length);
  });

  it('lists every command but the internal one in --help', async () => {
    const stdout = sink();
    expect(await main(['--help'], { stdout, stderr: sink() })).toBe(0);
    for (const c of commands) {
      if (c.name.startsWith('__')) expect(stdout.text).not.toContain(c.name);
      else expect(stdout.text).toContain(`  ${c.name.padEnd(7)}  ${c.summary}`);
    }
  });

  it('names an unknown command and the way to the list', async () => {
    const stderr = sink();
    expect(await main(['lss'], { stdout: sink(), stderr })).toBe(2);
    expect(stderr.text).toBe('oklinux: unknown command "lss". Run "oklinux --help" for the list.\n');
  });

  it('finds the command after global options, --home and its value included', async () => {
    const stdout = sink();
    expect(await main(['--json', '--home', '/nonexistent-ls', 'ls', '--help'], { stdout, stderr: sink() })).toBe(0);
    expect(stdout.text).toMatch(/^Usage: oklinux ls\b/);
  });
});
