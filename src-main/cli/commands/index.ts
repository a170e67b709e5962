/**
 * This folder (cli/commands/) has one module per group of commands; each declares its options and help,
 * and calls contract channels through `withEngine`.
 *
 * The table below names every top-level command with its summary (for `oklinux --help`) and loads its
 * module only when that command runs: `oklinux ls` loads the VM commands, never serve's web host or the
 * download progress code (bench/cli.mjs measures it). test/cli/commands.test.ts holds the summaries equal
 * to the modules' own.
 */
import type { Command } from '../framework';

export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

/** The command called `name` in a module's list. */
function named(list: Command[], name: string): Command {
  const found = list.find((c) => c.name === name);
  if (!found) throw new Error(`cli: no command "${name}" in its module`);
  return found;
}

const vms = async (name: string): Promise<Command> => named((await import('./vms')).vmCommands, name);
const images = async (name: string): Promise<Command> => named((await import('./images')).imageCommands, name);

export const commands: CommandEntry[] = [
  {
    name: 'doctor',
    summary: 'Check this machine: KVM, QEMU, bldy/crosvm, data directory, disk space.',
    load: async () => (await import('./doctor')).doctorCommand,
  },
  {
    name: 'images',
    summary: 'List the images available (okLinux releases, catalog bundles) and the installed ones (imports too).',
    load: () => images('images'),
  },
  {
    name: 'pull',
    summary: 'Download, verify and install an image (resumes an interrupted download). "bldy" installs the VMM.',
    load: () => images('pull'),
  },
  {
    name: 'import',
    summary: 'Import a local kernel (bzImage), a tarball holding arch/x86/boot/bzImage, or a manifest.',
    load: () => images('import'),
  },
  {
    name: 'verify',
    summary: 'Rehash every installed artifact and report any that are damaged.',
    load: () => images('verify'),
  },
  {
    name: 'catalog',
    summary: 'Manage catalog sources (manifests). okLinux releases are always included.',
    load: () => images('catalog'),
  },
  {
    name: 'run',
    summary: 'Launch okLinux: create the VM if missing, pull what it needs, start it and attach its console.',
    load: () => vms('run'),
  },
  { name: 'create', summary: 'Create a VM (nothing is started).', load: () => vms('create') },
  {
    name: 'ls',
    summary: 'List VMs and their state (stopped, starting, running, stopping, crashed).',
    load: () => vms('ls'),
  },
  {
    name: 'start',
    summary: 'Start a VM (pulling its image first if needed); --attach connects to its console.',
    load: () => vms('start'),
  },
  {
    name: 'stop',
    summary: 'Stop a VM: ask the guest to power off, then SIGTERM, then SIGKILL. --force kills it now.',
    load: () => vms('stop'),
  },
  {
    name: 'console',
    summary: "Attach to a running VM's serial console. Detach with Ctrl-] (the VM keeps running).",
    load: () => vms('console'),
  },
  { name: 'logs', summary: "Print the end of a VM's console log.", load: () => vms('logs') },
  {
    name: 'rm',
    summary: 'Remove a VM (or, with --image or when no VM has the name, an installed image).',
    load: () => vms('rm'),
  },
  {
    name: 'share',
    summary:
      'Share host folders with a VM over virtio-9p, or remote 9p servers (9p://HOST[:PORT]/ANAME, or JetStream: ' +
      '9p+quic://HOST:PORT/ANAME --ca FILE).',
    load: async () => (await import('./shares')).shareCommand,
  },
  { name: 'root', summary: "Work on a VM's root filesystem.", load: () => vms('root') },
  {
    name: '__supervise',
    summary: 'Internal: run a VM supervisor (started by "oklinux start").',
    load: async () => (await import('./supervise')).superviseCommand,
  },
  {
    name: 'port',
    summary: "Publish a VM's ports on this computer (QEMU user-mode networking forwards them).",
    load: async () => (await import('./ports')).portCommand,
  },
  {
    name: 'config',
    summary: 'Show or change settings (backend, accel, bldyPath, githubApi, proxy).',
    load: async () => (await import('./config')).configCommand,
  },
  {
    name: 'serve',
    summary: 'Serve the desktop UI to a browser on this machine (127.0.0.1, with a token).',
    load: async () => (await import('./serve')).serveCommand,
  },
];
