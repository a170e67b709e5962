// npm run bench:root  (run through tsx: it imports the engine's argv builder and root options, and the test fixtures)
//
// The metadata workload on a VM's root, 9p against ext4 (#11 item 5). Each run is one guest under QEMU TCG with
// the okLinux-shaped test kernel (test/fixtures/oklinux-kernel.sh), no initrd, booted with the app's own argv
// (core/vmm/qemu.ts: the app's default 2 vCPUs and 1024 MiB) and oklinux-init as PID 1, on the machine the app
// picks for an okLinux bundle (its kernel has virtio-mmio built in): chooseMachine('auto') in core/vmm/machine.ts,
// which under TCG is microvm when the host reports its TSC rate, else pc (BENCH_ROOT_MACHINE=pc|microvm sets it, as
// `create --machine` does). Its oklinux.run= script times, in the guest, with /proc/uptime (10 ms):
//   untar  tar -xf of a tarball of BENCH_ROOT_FILES (default 5,000) small files (100 B to 8 KiB, 10 x 10 folders),
//          made on the host at run time and put in the root (page cache dropped first, so it is read cold);
//   find   find | wc -l over the tree;     du   du -s over it;     rm   rm -rf of it;     sync   sync.
// Each step prints a marker line (`ROOTBENCH step start end rc output`) that this script parses.
//
// Roots, each from the same busybox tree (test/fixtures/guest.ts buildRootDir):
//   - 9p: the app's root share (rootParams) with cache= each of BENCH_ROOT_MODES (default: none mmap loose, plus
//     fscache when the kernel has CONFIG_9P_FSCACHE; the test kernel does not, which is said);
//   - ext4: an image made at run time with `mkfs.ext4 -d` from that tree, as the app boots a disk root (the spec's
//     rootDisk: -drive plus virtio-blk on the machine's transport, root=/dev/vda).
// Prints one line per root and, with the app's default root options (ROOT_CACHE),
//   metadata workload 9p root vs ext4 root: X
// = total time on the 9p root / total on ext4 (how many times faster ext4 is). One run each (TCG is slow).
// Working files live under .cache/bench/ (ignored by git) and are removed at the end.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT_CACHE } from '../src-main/core/shares/mount.ts';
import { ROOT_TAG } from '../src-main/core/shares/tags.ts';
import { GUEST_INIT_PATH } from '../src-main/core/vm/root.ts';
import { hostTscKhz } from '../src-main/core/vmm/accel.ts';
import { chooseMachine } from '../src-main/core/vmm/machine.ts';
import { qemuArgv } from '../src-main/core/vmm/qemu.ts';
import { DEFAULT_CPUS, DEFAULT_MEMORY_MIB } from '../src-main/core/vm/create.ts';
import { buildRootDir, requireQemu } from '../test/fixtures/guest.ts';
import { okKernelPath } from '../test/fixtures/oklinux-kernel.ts';
import { runArg } from '../test/fixtures/qemu.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CACHE = path.join(REPO, '.cache', 'bench');
const FILES = Number(process.env.BENCH_ROOT_FILES ?? 5000);
const STEPS = ['untar', 'find', 'du', 'rm', 'sync'];
const RUN_TIMEOUT_MS = 30 * 60_000;

/** The files of the workload tree: 10 x 10 folders, FILES files in all, 100 B to 8 KiB each (fixed seed). */
function makeTree(dir) {
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / (1 << 24);
  for (let i = 0; i < FILES; i++) {
    const sub = path.join(dir, `d${i % 10}`, `e${Math.floor(i / 10) % 10}`);
    if (i < 100) fs.mkdirSync(sub, { recursive: true });
    const size = 100 + Math.floor(rand() * 8092);
    fs.writeFileSync(path.join(sub, `f${i}.txt`), Buffer.alloc(size, 97 + (i % 26)));
  }
}

function must(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error?.code === 'ENOENT')
    throw new Error(
      `${cmd} is missing: install it (${cmd === 'mkfs.ext4' ? 'apt-get install e2fsprogs' : 'apt-get install tar'})`,
    );
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr.trim()}`);
}

/** The guest script: one marker line per timed step, then ROOTBENCH-DONE. */
function guestScript() {
  return `
sync; echo 3 >/proc/sys/vm/drop_caches
step() {
  n=$1; shift
  read -r a _ </proc/uptime
  "$@" >/tmp/rootbench.out 2>&1; rc=$?
  read -r b _ </proc/uptime
  echo "ROOTBENCH $n $a $b $rc $(head -c 100 /tmp/rootbench.out | tr '\\n' ' ')"
}
mkdir -p /w
step untar tar -xf /bench.tar -C /w
step find sh -c 'find /w | wc -l'
step du du -s /w
step rm rm -rf /w
step sync sync
echo ROOTBENCH-DONE
`;
}

/**
 * The machine the app gives a VM of an okLinux bundle (plan.ts qemuMachineOf): the kernel has virtio-mmio, the
 * accelerator is TCG; microvm also gets the host TSC's rate.
 */
async function appMachine() {
  const setting = process.env.BENCH_ROOT_MACHINE ?? 'auto';
  if (!['auto', 'pc', 'microvm'].includes(setting))
    throw new Error(`BENCH_ROOT_MACHINE=${setting}: use auto, pc or microvm`);
  const tscKhz = setting === 'pc' ? null : await hostTscKhz();
  const { machine, reason } = chooseMachine('bench', setting, { virtioMmio: true, accel: 'tcg', tscKhz });
  return { spec: machine === 'microvm' && tscKhz ? { machine, tscKhz } : { machine }, reason };
}

/** The app's argv for a VM whose root is `root`: a 9p share ({ share }) or an ext4 disk ({ disk }). */
function appArgv(work, machine, root) {
  const spec = {
    name: 'bench',
    kernelPath: okKernelPath(),
    params: ['console=ttyS0 quiet', 'panic=-1', `init=${GUEST_INIT_PATH}`, runArg(guestScript())],
    cpus: DEFAULT_CPUS,
    memoryMiB: DEFAULT_MEMORY_MIB,
    accel: 'tcg',
    runDir: work,
    controlSocket: path.join(work, 'qmp.sock'),
    shares: [],
    ...machine,
    ...(root.share ? { rootShare: { tag: ROOT_TAG, hostPath: root.share } } : {}),
    ...(root.disk ? { rootDisk: { path: root.disk, readOnly: false } } : {}),
  };
  return qemuArgv(spec);
}

/** Boots argv, waits for the script's end; the steps' times in seconds (from the guest's markers). */
async function runGuest(label, argv) {
  const qemu = spawn(requireQemu(), argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  qemu.stdout.setEncoding('utf8').on('data', (d) => (out += d.replaceAll('\r', '')));
  qemu.stderr.setEncoding('utf8').on('data', (d) => (err += d));
  const exited = new Promise((resolve) => qemu.on('close', resolve));
  const timer = setTimeout(() => qemu.kill('SIGKILL'), RUN_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
  if (!out.includes('ROOTBENCH-DONE')) {
    throw new Error(
      `${label}: the guest did not finish the workload\nstderr: ${err}\nconsole tail:\n${out.slice(-3000)}`,
    );
  }
  const times = {};
  for (const m of out.matchAll(/^ROOTBENCH (\w+) ([\d.]+) ([\d.]+) (\d+) (.*)$/gm)) {
    const [, step, a, b, rc, output] = m;
    if (rc !== '0') throw new Error(`${label}: step ${step} failed (exit ${rc}): ${output}`);
    if (step === 'find' && Number(output.trim()) < FILES) {
      throw new Error(`${label}: find counted ${output.trim()} entries, fewer than the ${FILES} files untarred`);
    }
    times[step] = Number(b) - Number(a);
  }
  for (const s of STEPS) if (times[s] === undefined) throw new Error(`${label}: no time for ${s}\n${out.slice(-3000)}`);
  times.total = STEPS.reduce((sum, s) => sum + times[s], 0);
  return times;
}

const fmt = (t) => `${t.total.toFixed(1)} s (${STEPS.map((s) => `${s} ${t[s].toFixed(1)}`).join(', ')})`;

async function main() {
  fs.mkdirSync(CACHE, { recursive: true });
  const work = fs.mkdtempSync(path.join(CACHE, 'root-'));
  try {
    const kernel = okKernelPath();
    const config = path.join(path.dirname(kernel), 'config');
    const hasFscache = fs.existsSync(config) && /^CONFIG_9P_FSCACHE=y$/m.test(fs.readFileSync(config, 'utf8'));
    const modes = (process.env.BENCH_ROOT_MODES ?? `none mmap loose${hasFscache ? ' fscache' : ''}`)
      .split(/\s+/)
      .filter(Boolean);
    if (!modes.includes(ROOT_CACHE)) modes.unshift(ROOT_CACHE);
    const machine = await appMachine();

    // the workload's tarball, made now, and the root tree it goes into
    const tree = path.join(work, 'tree');
    makeTree(tree);
    const template = path.join(work, 'template');
    buildRootDir(template);
    must('tar', ['-cf', path.join(template, 'bench.tar'), '-C', tree, '.']);
    fs.rmSync(tree, { recursive: true });
    console.log(
      `workload: ${FILES} files, tarball ${(fs.statSync(path.join(template, 'bench.tar')).size / 1e6).toFixed(1)} MB; kernel ${kernel}; machine ${machine.spec.machine} (${machine.reason})`,
    );

    // ext4 on virtio-blk
    const img = path.join(work, 'root.ext4');
    fs.writeFileSync(img, '');
    fs.truncateSync(img, 1024 ** 3);
    must('mkfs.ext4', ['-q', '-F', '-d', template, img]);
    const ext4 = await runGuest('ext4 root', appArgv(work, machine.spec, { disk: img }));
    console.log(`ext4 root (virtio-blk, ${machine.spec.machine}): ${fmt(ext4)}`);
    fs.rmSync(img);

    const results = {};
    for (const mode of modes) {
      const root = path.join(work, `9p-${mode}`);
      fs.cpSync(template, root, { recursive: true, verbatimSymlinks: true });
      const argv = appArgv(work, machine.spec, { share: root });
      const i = argv.indexOf('-append');
      argv[i + 1] = argv[i + 1].replace(/(rootflags=\S*)cache=\w+/, `$1cache=${mode}`);
      results[mode] = await runGuest(`9p root cache=${mode}`, argv);
      console.log(
        `9p root cache=${mode}${mode === ROOT_CACHE ? ' (default)' : ''}: ${fmt(results[mode])}, ${(results[mode].total / ext4.total).toFixed(2)}x ext4`,
      );
      fs.rmSync(root, { recursive: true, force: true });
    }
    if (!hasFscache)
      console.log('9p root cache=fscache: not measured, the test kernel has no CONFIG_9P_FSCACHE (nor CONFIG_FSCACHE)');
    console.log(`metadata workload 9p root vs ext4 root: ${(results[ROOT_CACHE].total / ext4.total).toFixed(2)}`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

await main();
