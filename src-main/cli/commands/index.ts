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

/** An entry for a command of the VM commands' module, or of the image commands' module. */
const vms = (name: string, summary: string): CommandEntry => ({
  name,
  summary,
  load: async () => named((await import('./vms')).vmCommands, name),
});
const images = (name: string, summary: string): CommandEntry => ({
  name,
  summary,
  load: async () => named((await import('./images')).imageCommands, name),
});

export const commands: CommandEntry[] = [
  {
    name: 'doctor',
    summary: 'Check this machine: KVM, QEMU, bldy/crosvm, data directory, disk space.',
    load: async () => (await import('./doctor')).doctorCommand,
  },
  images(
    'images',
    'List the images available (okLinux releases, catalog bundles) and the installed ones (imports too).',
  ),
  images('pull', 'Download, verify and install an image (resumes an interrupted download). "bldy" installs the VMM.'),
  images('import', 'Import a local kernel (bzImage), a tarball holding arch/x86/boot/bzImage, or a manifest.'),
  images('verify', 'Rehash every installed artifact and report any that are damaged.'),
  images('catalog', 'Manage catalog sources (manifests). okLinux releases are always included.'),
  vms('run', 'Launch okLinux: create the VM if missing, pull what it needs, start it and attach its console.'),
  vms('create', 'Create a VM (nothing is started).'),
  vms('ls', 'List VMs and their state (stopped, starting, running, stopping, crashed).'),
  vms('start', 'Start a VM (pulling its image first if needed); --attach connects to its console.'),
  vms('stop', 'Stop a VM: ask the guest to power off, then SIGTERM, then SIGKILL. --force kills it now.'),
  vms('console', "Attach to a running VM's serial console. Detach with Ctrl-] (the VM keeps running)."),
  vms('logs', "Print the end of a VM's console log."),
  vms('rm', 'Remove a VM (or, with --image or when no VM has the name, an installed image).'),
  {
    name: 'share',
    summary:
      'Share host folders with a VM over virtio-9p, or remote 9p servers (9p://HOST[:PORT]/ANAME, or JetStream: ' +
      '9p+quic://HOST:PORT/ANAME --ca FILE).',
    load: async () => (await import('./shares')).shareCommand,
  },
  vms('root', "Work on a VM's root filesystem."),
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
