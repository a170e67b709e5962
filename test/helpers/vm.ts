/**
 * VM test support: a test bundle served from a local manifest over HTTP, so
 * tests go through the real pull path; an environment for the CLI; and a
 * console tap. Commands typed into a guest are waited for with a per-command
 * completion marker (marker.ts), never a prompt.
 *
 * The bundle is shaped like okLinux's default: the okLinux-shaped test kernel
 * (9p built in) with no initrd, and a busybox rootfs tarball that becomes the
 * VM's 9p root. `kernel: 'debian'` serves the old shape instead: Debian's
 * modular kernel and the busybox initramfs (oklinux-init as its /init), no root. `virtioMmio: true` says
 * in the manifest that the kernel has virtio-mmio, so QEMU boots it on microvm (vmm/machine.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { create } from 'tar';
import { OKLINUX_BIN } from './cli';
import path from 'node:path';
import { buildInitramfs, buildRootDir, kernelPath } from '../fixtures/guest';
import { okKernelPath } from '../fixtures/oklinux-kernel';
import { sha256Hex, startTestServer, type TestServer } from './http';
import type { Engine } from '@core/engine';
import { expectOutput, markCommand, markedOutput } from './marker';

export const TEST_BUNDLE = 'testvm';

export interface BundleServer {
  server: TestServer;
  manifestUrl: string;
  close(): Promise<void>;
}

/** A busybox root (fixtures/guest.ts) as a gzip'd tarball; the app installs its own oklinux-init. */
async function rootfsTarball(): Promise<Buffer> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'oklinux-rootfs-'));
  try {
    const root = path.join(work, 'root');
    buildRootDir(root);
    fs.rmSync(path.join(root, 'sbin', 'oklinux-init'));
    const out = path.join(work, 'rootfs.tar.gz');
    await create({ gzip: true, file: out, cwd: root, portable: true }, fs.readdirSync(root));
    return fs.readFileSync(out);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Serve the test bundle: GET /manifest.json, /vmlinuz, and /rootfs.tar.gz (okLinux-shaped, the
 * default) or /initramfs.cpio.gz (`kernel: 'debian'`).
 */
export async function serveTestBundle(
  opts: { name?: string; cmdline?: string; kernel?: 'oklinux' | 'debian'; virtioMmio?: boolean } = {},
): Promise<BundleServer> {
  const debian = opts.kernel === 'debian';
  const kernel = fs.readFileSync(debian ? kernelPath() : okKernelPath());
  const server = await startTestServer();
  server.route('/vmlinuz', { body: kernel });
  let second: Record<string, unknown>;
  if (debian) {
    const initrd = fs.readFileSync(buildInitramfs());
    server.route('/initramfs.cpio.gz', { body: initrd });
    second = { initrd: { url: 'initramfs.cpio.gz', sha256: sha256Hex(initrd), size: initrd.length } };
  } else {
    const rootfs = await rootfsTarball();
    server.route('/rootfs.tar.gz', { body: rootfs });
    second = { rootfs: { url: 'rootfs.tar.gz', sha256: sha256Hex(rootfs), size: rootfs.length, format: 'tar.gz' } };
  }
  const manifest = {
    schema: 1,
    bundles: [
      {
        name: opts.name ?? TEST_BUNDLE,
        version: '1',
        arch: 'x86_64',
        cmdline: opts.cmdline ?? 'console=ttyS0 quiet',
        // the manifest's word that the kernel has virtio-mmio (QEMU's microvm machine); the okLinux-shaped one has
        ...(opts.virtioMmio !== undefined ? { virtioMmio: opts.virtioMmio } : {}),
        artifacts: {
          kernel: { url: 'vmlinuz', sha256: sha256Hex(kernel), size: kernel.length },
          ...second,
        },
      },
    ],
  };
  server.route('/manifest.json', { body: Buffer.from(JSON.stringify(manifest)) });
  return { server, manifestUrl: server.url('/manifest.json'), close: () => server.close() };
}

/** Environment for CLI children and in-process engines of a test. */
export function vmEnv(home: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    OKLINUX_HOME: home,
    // no GitHub here: a closed port fails at once, and the catalog reports it as a warning
    OKLINUX_GITHUB_API: 'http://127.0.0.1:9',
  };
}

/** Collects a VM's console output from an engine's events. */
export class ConsoleTap {
  text = '';
  private readonly off: () => void;
  constructor(
    private readonly engine: Engine,
    private readonly vm: string,
  ) {
    this.off = engine.onEvent((e) => {
      if (e.type === 'console:data' && e.vm === vm) this.text += e.data;
    });
  }

  async attach(): Promise<void> {
    const { tail } = await this.engine.invoke('console:attach', { name: this.vm });
    this.text = tail + this.text;
  }

  /** Wait until the output after `from` matches `re`. */
  async waitFor(re: RegExp, ms = 90_000, from = 0): Promise<string> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const m = this.text.slice(from).match(re);
      if (m) return m[0];
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`console of ${this.vm} never matched ${re}; it ended with:\n${this.text.slice(-1500)}`);
  }

  /** Wait for oklinux-init's shell prompt (input typed earlier may be lost). */
  ready(ms = 90_000): Promise<string> {
    return this.waitFor(/oklinux-init: ready[\s\S]*# /, ms);
  }

  /**
   * Type a command and wait until the guest has finished it (a per-command marker, see
   * marker.ts); resolves with its output, or with the match of `expect` in it (which must match).
   */
  async run(cmd: string, expect?: RegExp, ms = 30_000): Promise<string> {
    const from = this.text.length;
    const m = markCommand(cmd);
    await this.engine.invoke('console:write', { name: this.vm, data: m.line });
    const output = await waitForOutput(
      () => markedOutput(this.text, from, m),
      ms,
      () => `console of ${this.vm} never finished \`${cmd}\`; it ended with:\n${this.text.slice(-1500)}`,
    );
    return expect ? expectOutput(cmd, output, expect) : output;
  }

  close(): void {
    this.off();
  }
}

/** Pids of processes whose command line mentions `needle` (e.g. a test's data dir). */
export function processesMentioning(needle: string): { pid: number; cmd: string }[] {
  const out: { pid: number; cmd: string }[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const cmd = fs.readFileSync(path.join('/proc', d, 'cmdline'), 'utf8').replace(/\0/g, ' ');
      const stat = fs.readFileSync(path.join('/proc', d, 'stat'), 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z') continue;
      if (cmd.includes(needle)) out.push({ pid: Number(d), cmd });
    } catch {
      // gone
    }
  }
  return out;
}

/** `oklinux run` as a user types it: the console on stdin/stdout. */
export class Run {
  out = '';
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<number | null>;
  constructor(env: NodeJS.ProcessEnv, args: string[]) {
    this.child = spawn(process.execPath, [OKLINUX_BIN, 'run', ...args], { env, stdio: 'pipe' });
    this.child.stdout.on('data', (d: Buffer) => (this.out += d.toString()));
    this.child.stderr.on('data', (d: Buffer) => (this.out += d.toString()));
    this.exited = new Promise((r) => this.child.once('close', r));
  }

  async waitFor(re: RegExp, from = 0, ms = 120_000): Promise<void> {
    const end = Date.now() + ms;
    while (!re.test(this.out.slice(from))) {
      if (Date.now() > end) throw new Error(`never saw ${re}; output:\n${this.out.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Type a command, wait until the guest has finished it (marker.ts), and check its output against `expect`. */
  async type(line: string, expect: RegExp, ms = 30_000): Promise<string> {
    const from = this.out.length;
    const m = markCommand(line);
    this.child.stdin.write(m.line);
    const output = await waitForOutput(
      () => markedOutput(this.out, from, m),
      ms,
      () => `never saw \`${line}\` finish; output:\n${this.out.slice(-2000)}`,
    );
    return expectOutput(line, output, expect);
  }
}

/** Polls `get` until it returns text; throws `why()` after `ms`. */
async function waitForOutput(get: () => string | null, ms: number, why: () => string): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const out = get();
    if (out !== null) return out;
    if (Date.now() > end) throw new Error(why());
    await new Promise((r) => setTimeout(r, 50));
  }
}
