import path from 'node:path';
import type { Input, Vm } from '@contract';
import { OkError } from '@contract/errors';
import { needArgs, table, withEngine, type CliIO, type Command } from '../framework';
import { attachConsole } from '../console';
import { withProgress } from '../progress';
import { parsePublish } from './ports';
import { DEFAULT_IMAGE, DEFAULT_VM } from '@core/engine';

async function askYesNo(io: CliIO, question: string): Promise<boolean> {
  const readline = await import('node:readline/promises');
  const rl = readline.createInterface({ input: process.stdin, output: io.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

const num = (v: unknown, what: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new OkError('INVALID_INPUT', `${what} must be a whole number, got "${String(v)}"`);
  return n;
};

function vmLine(vm: Vm): string {
  return `${vm.name}: ${vm.state}${vm.pid ? ` (pid ${vm.pid})` : ''}${vm.lastError ? `\n${vm.lastError}` : ''}`;
}

const createOptions = {
  image: { type: 'string' },
  cpus: { type: 'string' },
  memory: { type: 'string' },
  append: { type: 'string' },
  backend: { type: 'string' },
  accel: { type: 'string' },
  machine: { type: 'string' },
  net: { type: 'string' },
  publish: { type: 'string', multiple: true },
  'root-dir': { type: 'string' },
  'root-disk': { type: 'string' },
  rw: { type: 'boolean' },
} as const;

const ROOT_HELP =
  ' --root-disk FILE boots an ext4 image (e.g. made with "mkfs.ext4 -d DIR FILE SIZE" or the debootstrap recipe) ' +
  'as the root, with any bundle, even one with only a kernel: the VM gets its own copy and FILE is never changed. ' +
  'With --rw the VM boots FILE itself and changes it (okLinux writes its init and the shares into it at every start).';

/** A size such as 4096 (MiB), 512M, 8G or 1.5T, in MiB. */
export function parseSizeMiB(v: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([MGT]i?B?)?$/i.exec(v.trim());
  if (!m) throw new OkError('INVALID_INPUT', `${what} must be a size such as 4096 (MiB), 512M or 8G, got "${v}"`);
  const unit = (m[2] ?? 'M')[0]!.toUpperCase();
  return Math.ceil(Number(m[1]) * (unit === 'T' ? 1024 * 1024 : unit === 'G' ? 1024 : 1));
}

const MACHINE_HELP =
  "--machine (QEMU): auto (the default) boots a kernel with virtio-mmio built in, as okLinux's is, on QEMU's " +
  'microvm machine (virtio-mmio, no PCI: a faster boot), and any other kernel on pc; pc forces virtio over PCI ' +
  '(e.g. for a modular kernel whose initramfs loads virtio_pci). bldy ignores it. ';

const NET_HELP =
  '--net: nat (the default) gives the guest QEMU user-mode networking with no root needed: it is 10.0.2.15, ' +
  "reaches the host's loopback at 10.0.2.2 and the outside through the host; restricted keeps the same device " +
  'but lets no traffic leave the VM; none gives it no network device. bldy has no user-mode networking: ' +
  'auto picks QEMU for nat and restricted, and a VM set to bldy gets none. tap:NAME puts the VM on a TAP device ' +
  'you made (bldy and QEMU; see "oklinux doctor" for how), with your own addressing. ' +
  '--publish (repeatable) forwards HOST on this computer to GUEST in the VM; it listens on 127.0.0.1 unless ADDR ' +
  'is written out (0.0.0.0: reachable from the network). See "oklinux port".';

type CreateInput = Input<'vms:create'>;

/** The options as given; the engine checks them against the contract and names what is wrong. */
export function createInput(name: string, values: Record<string, unknown>): CreateInput {
  return {
    name,
    image: values.image as string,
    cpus: num(values.cpus, '--cpus'),
    memoryMiB: num(values.memory, '--memory'),
    append: values.append as string | undefined,
    backend: values.backend as CreateInput['backend'],
    accel: values.accel as CreateInput['accel'],
    machine: values.machine as CreateInput['machine'],
    net: values.net as CreateInput['net'],
    publish: Array.isArray(values.publish) ? values.publish.map((p) => parsePublish(String(p))) : undefined,
    rootDir:
      typeof values['root-dir'] === 'string' && values['root-dir']
        ? path.resolve(values['root-dir'])
        : (values['root-dir'] as string | undefined),
    rootDisk:
      typeof values['root-disk'] === 'string' && values['root-disk']
        ? path.resolve(values['root-disk'])
        : (values['root-disk'] as string | undefined),
    rootDiskRw: values.rw === true ? true : undefined,
  };
}

const rootCommand: Command = {
  name: 'root',
  usage: 'root to-disk <vm> [--size SIZE]',
  summary: "Work on a VM's root filesystem.",
  sub: [
    {
      name: 'to-disk',
      usage: 'to-disk <vm> [--size SIZE]',
      summary: "Turn a stopped VM's 9p root folder into an ext4 disk it boots from (faster for many small files).",
      description:
        'Makes <vm>/root.img with "mkfs.ext4 -d" (no root needed) and boots it from then on: package installs, ' +
        'builds and git run about ten times faster than on a 9p root. The folder is kept as it was; a folder okLinux ' +
        'made goes with "oklinux rm". --size (e.g. 8G; MiB when no unit) defaults to what the root holds × 1.5 + 256 MiB. ' +
        'The disk does not grow by itself.',
      options: { size: { type: 'string' } },
      async run(io, { positionals, values }) {
        needArgs(positionals, 1, `root ${this.usage}`);
        const sizeMiB = typeof values.size === 'string' ? parseSizeMiB(values.size, '--size') : undefined;
        const name = positionals[0]!;
        const vm = await withEngine(io, (e) => e.invoke('vms:toDisk', { name, ...(sizeMiB ? { sizeMiB } : {}) }));
        io.print(
          vm,
          () =>
            `${vm.name} now boots from the disk ${vm.rootDisk} (${Math.round((vm.rootDiskBytes?.size ?? 0) / 1024 / 1024)} MiB, ` +
            `${Math.round((vm.rootDiskBytes?.allocated ?? 0) / 1024 / 1024)} MiB used on the host). ` +
            `Its folder ${vm.rootDiskSource} is kept as it was.`,
        );
      },
    },
  ],
};

export const vmCommands: Command[] = [
  {
    name: 'run',
    usage:
      'run [vm] [--image BUNDLE] [--cpus N] [--memory MiB] [--append ARGS] [--backend auto|bldy|qemu] [--accel auto|kvm|tcg] [--machine auto|microvm|pc] [--net nat|none|restricted|tap:NAME] [--publish [ADDR:]HOST:GUEST[/tcp|/udp]]… [--root-dir DIR | --root-disk FILE [--rw]]',
    summary: 'Launch okLinux: create the VM if missing, pull what it needs, start it and attach its console.',
    description:
      `With no arguments it runs the VM "${DEFAULT_VM}" from the bundle "${DEFAULT_IMAGE}" (the newest okLinux kernel ` +
      'with the default root filesystem). It returns when the VM stops; Ctrl-] detaches and leaves it running. ' +
      MACHINE_HELP +
      NET_HELP +
      ROOT_HELP,
    options: createOptions,
    async run(io, { positionals, values }) {
      if (positionals.length > 1)
        throw new OkError('INVALID_INPUT', `unexpected argument "${positionals[1]}". Usage: oklinux ${this.usage}`);
      const name = positionals[0] ?? DEFAULT_VM;
      return withEngine(io, async (e) => {
        const { image: _image, name: _name, ...create } = createInput(name, values);
        const given = Object.entries(values).filter(([k, v]) => k in createOptions && v !== undefined);
        if (given.length && !io.json && (await e.invoke('vms:list', {})).some((v) => v.name === name)) {
          io.stderr.write(
            `The VM "${name}" exists already: ${given.map(([k]) => `--${k}`).join(', ')} ignored (they apply when a VM is created).\n`,
          );
        }
        const vm = await withProgress(io, e, () =>
          e.invoke('vms:launch', {
            name,
            ...(values.image === undefined ? {} : { image: values.image as string }),
            ...Object.fromEntries(Object.entries(create).filter(([, v]) => v !== undefined)),
          }),
        );
        const end = vm.state === 'running' ? await attachConsole(io, e, name, true) : vm.state;
        if (end === 'crashed') {
          const after = await e.invoke('vms:get', { name });
          io.stderr.write(`\r\nThe VM "${name}" crashed. ${after.lastError ?? ''}\n`);
          return 7;
        }
        return 0;
      });
    },
  },
  {
    name: 'create',
    usage:
      'create <vm> --image <bundle-or-release> [--cpus N] [--memory MiB] [--append ARGS] [--backend auto|bldy|qemu] [--accel auto|kvm|tcg] [--machine auto|microvm|pc] [--net nat|none|restricted|tap:NAME] [--publish [ADDR:]HOST:GUEST[/tcp|/udp]]… [--root-dir DIR | --root-disk FILE [--rw]]',
    summary: 'Create a VM (nothing is started).',
    description: MACHINE_HELP + NET_HELP + ROOT_HELP,
    options: createOptions,
    async run(io, { positionals, values }) {
      needArgs(positionals, 1, this.usage);
      const vm = await withEngine(io, (e) => e.invoke('vms:create', createInput(positionals[0]!, values)));
      io.print(
        vm,
        () =>
          `Created ${vm.name} (${vm.cpus} vCPUs, ${vm.memoryMiB} MiB, image ${vm.image}, network ${vm.net}).` +
          (vm.rootDisk
            ? vm.rootDiskSource
              ? `\nRoot disk: ${vm.rootDisk} (its own copy of ${vm.rootDiskSource}, which stays as it is).`
              : `\nRoot disk: ${vm.rootDisk} (booted in place: the VM changes this file).`
            : ''),
      );
    },
  },
  {
    name: 'ls',
    usage: 'ls',
    summary: 'List VMs and their state (stopped, starting, running, stopping, crashed).',
    async run(io, { positionals }) {
      needArgs(positionals, 0, this.usage);
      const vms = await withEngine(io, (e) => e.invoke('vms:list', {}));
      io.print(vms, () =>
        vms.length
          ? table(
              ['NAME', 'STATE', 'IMAGE', 'CPUS', 'MEMORY', 'NET', 'PID'],
              vms.map((v) => [
                v.name,
                v.state + (v.pendingRestart ? ' (restart to apply)' : ''),
                v.image,
                v.cpus,
                `${v.memoryMiB} MiB`,
                v.net,
                v.pid,
              ]),
            )
          : 'No VMs yet. Create one with "oklinux create <name> --image <image>", or "oklinux run".',
      );
    },
  },
  {
    name: 'start',
    usage: 'start <vm> [--attach] [--dry-run [--backend bldy|qemu]]',
    summary: 'Start a VM (pulling its image first if needed); --attach connects to its console.',
    options: { attach: { type: 'boolean' }, 'dry-run': { type: 'boolean' }, backend: { type: 'string' } },
    async run(io, { positionals, values }) {
      needArgs(positionals, 1, this.usage);
      const name = positionals[0]!;
      if (values['dry-run']) {
        const backend = values.backend as string | undefined;
        if (backend !== undefined && backend !== 'bldy' && backend !== 'qemu') {
          throw new OkError('INVALID_INPUT', `--backend must be bldy or qemu, got "${backend}"`);
        }
        const planned = await withEngine(io, (e) => e.invoke('vms:plan', { name, ...(backend ? { backend } : {}) }));
        const argv = [planned.bin, ...planned.args];
        io.print(argv, () =>
          argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' '),
        );
        return;
      }
      if (values.backend)
        throw new OkError(
          'INVALID_INPUT',
          '--backend goes with --dry-run; set a VM\'s backend with "oklinux create --backend".',
        );
      return withEngine(io, async (e) => {
        const vm = await e.invoke('vms:start', { name });
        if (vm.state === 'crashed') {
          // the VMM failed at once (a bad argv, an unusable accelerator…)
          io.print(vm, () => `The VM ${vmLine(vm)}`);
          return 7;
        }
        if (!values.attach) {
          io.print(vm, () => `Started ${vmLine(vm)}. Console: "oklinux console ${name}".`);
          return 0;
        }
        const end = await attachConsole(io, e, name);
        return end === 'crashed' ? 7 : 0;
      });
    },
  },
  {
    name: 'stop',
    usage: 'stop <vm> [--force]',
    summary: 'Stop a VM: ask the guest to power off, then SIGTERM, then SIGKILL. --force kills it now.',
    options: { force: { type: 'boolean' } },
    async run(io, { positionals, values }) {
      needArgs(positionals, 1, this.usage);
      const vm = await withEngine(io, (e) =>
        e.invoke('vms:stop', { name: positionals[0]!, force: values.force === true }),
      );
      io.print(vm, () => vmLine(vm));
    },
  },
  {
    name: 'console',
    usage: 'console <vm>',
    summary: "Attach to a running VM's serial console. Detach with Ctrl-] (the VM keeps running).",
    async run(io, { positionals }) {
      needArgs(positionals, 1, this.usage);
      const end = await withEngine(io, (e) => attachConsole(io, e, positionals[0]!));
      return end === 'crashed' ? 7 : 0;
    },
  },
  {
    name: 'logs',
    usage: 'logs <vm> [--bytes N]',
    summary: "Print the end of a VM's console log.",
    options: { bytes: { type: 'string' } },
    async run(io, { positionals, values }) {
      needArgs(positionals, 1, this.usage);
      const text = await withEngine(io, (e) =>
        e.invoke('vms:logs', { name: positionals[0]!, bytes: num(values.bytes, '--bytes') }),
      );
      if (io.json) io.print({ log: text }, () => text);
      else io.stdout.write(text);
    },
  },
  {
    name: 'rm',
    usage: 'rm <vm|image> [--keep-root|--delete-root] [--vm|--image]',
    summary: 'Remove a VM (or, with --image or when no VM has the name, an installed image).',
    description:
      "A VM whose root filesystem the app made (from its image's rootfs) keeps its files there. On a terminal, rm asks " +
      'whether to delete them; elsewhere, say --keep-root or --delete-root. A root chosen with --root-dir is never deleted. ' +
      'Files go first: if some cannot be removed (a mount point, an immutable file), the VM is kept, each one is named ' +
      'with its fix, and rm exits 8.',
    options: {
      'keep-root': { type: 'boolean' },
      'delete-root': { type: 'boolean' },
      vm: { type: 'boolean' },
      image: { type: 'boolean' },
    },
    async run(io, { positionals, values }) {
      needArgs(positionals, 1, this.usage);
      const name = positionals[0]!;
      await withEngine(io, async (e) => {
        // the engine decides: a VM wins over an image of the same name (the default VM and bundle are both "oklinux")
        const kind = values.vm === true ? 'vm' : values.image === true ? 'image' : undefined;
        const found = await e.invoke('system:resolve', { name, ...(kind ? { kind } : {}) });
        if (found.kind === 'vm') {
          const { managedRoot } = found.vm;
          let keepRoot = values['keep-root'] === true;
          if (!keepRoot && values['delete-root'] !== true && managedRoot) {
            if (!process.stdin.isTTY || io.json) {
              throw new OkError(
                'INVALID_INPUT',
                `The VM "${name}" has a root directory with its files (${managedRoot}). Add --keep-root to keep it, or --delete-root to delete it too.`,
              );
            }
            keepRoot = !(await askYesNo(
              io,
              `Delete its root directory ${managedRoot} too? Files saved in the VM are lost. [y/N] `,
            ));
          }
          await e.invoke('vms:remove', { name, keepRoot });
          io.print(
            { removed: 'vm', name, keptRoot: keepRoot ? managedRoot : null },
            () =>
              `Removed the VM ${name}${keepRoot && managedRoot ? `; its root directory is kept at ${managedRoot}` : ''}.`,
          );
        } else {
          await e.invoke('images:remove', { ref: name });
          io.print({ removed: 'image', name }, () => `Removed the image ${name}.`);
        }
      });
    },
  },
  rootCommand,
];
