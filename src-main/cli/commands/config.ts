/**
 * `oklinux config`: read and change settings from the terminal. With the
 * desktop app, this is where a setting naming a program okLinux runs
 * (`bldyPath`) is set: the browser UI cannot change those. The engine checks
 * values here exactly as for the app (a program must pass its file checks and
 * its realpath is stored).
 */
import path from 'node:path';
import { PROGRAM_SETTINGS, Settings } from '@contract';
import { OkError } from '@contract/errors';
import { needArgs, withEngine, type Command } from '../framework';

type Key = keyof Settings;
const KEYS = Object.keys(Settings.shape) as Key[];

function settingKey(name: string | undefined): Key {
  const key = KEYS.find((k) => k === name);
  if (!key) throw new OkError('INVALID_INPUT', `unknown setting "${name}". Settings: ${KEYS.join(', ')}.`);
  return key;
}

/** The value as the contract wants it: "none" clears a setting that may be empty; program paths are made absolute. */
function settingValue(key: Key, raw: string): string | null {
  if (raw === 'none' && Settings.shape[key].safeParse(null).success) return null;
  return (PROGRAM_SETTINGS as readonly string[]).includes(key) ? path.resolve(raw) : raw;
}

const show = (s: Settings): string => KEYS.map((k) => `${k.padEnd(10)}  ${s[k] ?? 'none'}`).join('\n');

export const configCommand: Command = {
  name: 'config',
  usage: 'config <get|set> …',
  summary: 'Show or change settings (backend, accel, bldyPath, githubApi, proxy).',
  sub: [
    {
      name: 'get',
      usage: 'get [KEY]',
      summary: 'Print every setting, or one.',
      async run(io, { positionals }) {
        if (positionals.length > 1) needArgs(positionals, 1, `config ${this.usage}`);
        const key = positionals[0] === undefined ? null : settingKey(positionals[0]);
        const s = await withEngine(io, (e) => e.invoke('settings:get', {}));
        if (key) io.print({ [key]: s[key] }, () => String(s[key] ?? 'none'));
        else io.print(s, () => show(s));
      },
    },
    {
      name: 'set',
      usage: 'set KEY VALUE',
      summary: 'Change one setting ("none" clears bldyPath or proxy).',
      description:
        'bldyPath names the bldy (or crosvm) program to run. It must be a regular, executable file owned by you or\n' +
        'root, not writable by group or others, in folders only you or root can change, and "FILE --version" must\n' +
        'work; its real path (symlinks resolved) is stored. The browser UI cannot change it.',
      async run(io, { positionals }) {
        needArgs(positionals, 2, `config ${this.usage}`);
        const key = settingKey(positionals[0]);
        const value = settingValue(key, positionals[1]!);
        const s = await withEngine(io, (e) => e.invoke('settings:set', { [key]: value }));
        io.print(s, () => `${key} = ${s[key] ?? 'none'}`);
      },
    },
  ],
};
