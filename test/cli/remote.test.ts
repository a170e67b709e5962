/**
 * The CLI reaches the engine only through the contract (issue #10), so its commands run unchanged
 * against a remote engine: here the real `oklinux serve`, over its WebSocket, with the browser's own
 * client (src-renderer/lib/ws-client.ts). What they do lands in the server's data directory, and a
 * command gives the same answer there as it does in a process of its own.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { Writable } from 'node:stream';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src-main/cli/main';
import type { EngineConnection } from '../../src-main/cli/framework';
import { createWsClient, type SocketLike } from '@renderer/lib/ws-client';
import { OKLINUX_BIN, runCli } from '../helpers/cli';
import { tmpDir } from '../helpers/tmp';

const t = tmpDir('oklinux-remote-');
const home = path.join(t.dir, 'data');
const ui = path.join(t.dir, 'ui');
const folder = path.join(t.dir, 'shared');
fs.mkdirSync(ui);
fs.mkdirSync(folder);
fs.writeFileSync(path.join(ui, 'index.html'), '<!doctype html><title>okLinux</title>');
const env: NodeJS.ProcessEnv = { ...process.env, OKLINUX_HOME: home, OKLINUX_GITHUB_API: 'http://127.0.0.1:9' };
delete env.OKLINUX_BROWSER;

let server: ChildProcess | null = null;
let exited: Promise<number | null> = Promise.resolve(null);
let wsUrl = '';
let origin = '';

beforeAll(async () => {
  const child = spawn(process.execPath, [OKLINUX_BIN, 'serve', '--json', '--no-open', '--ui', ui], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server = child;
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.on('close', () => reject(new Error(`oklinux serve exited early: ${stderr}`)));
  });
  const { url, port } = JSON.parse(line) as { url: string; port: number };
  origin = `http://127.0.0.1:${port}`;
  wsUrl = `ws://127.0.0.1:${port}/api?token=${encodeURIComponent(new URL(url).searchParams.get('token')!)}`;
});

afterAll(async () => {
  server?.kill('SIGINT');
  await exited;
  t.cleanup();
});

/** The engine behind `oklinux serve`, through the browser's WebSocket client. */
async function remote(): Promise<EngineConnection> {
  const client = createWsClient({
    url: wsUrl,
    socket: (u) => new WebSocket(u, { origin }) as unknown as SocketLike,
  });
  return { invoke: client.call, onEvent: client.api.onEvent, close: () => client.close() };
}

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

/** Run one CLI command in this process against the remote engine. */
async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Sink();
  const stderr = new Sink();
  const code = await main(argv, { connect: remote, stdout, stderr });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe('the CLI against a remote engine (oklinux serve, over its WebSocket)', () => {
  it('creates a VM, shares a folder, lists and changes it, plans and removes it, all in the server', async () => {
    expect(await cli('ls', '--json')).toMatchObject({ code: 0, stdout: '[]\n' });

    const made = await cli('create', 'web', '--image', 'k', '--cpus', '1', '--memory', '256');
    expect(made, made.stderr).toMatchObject({
      code: 0,
      stdout: 'Created web (1 vCPUs, 256 MiB, image k, network nat).\n',
    });
    // it is the server's VM: a separate local process reading the same data directory sees it
    const local = await runCli(['ls', '--json'], { env });
    expect((JSON.parse(local.stdout) as { name: string }[]).map((v) => v.name)).toEqual(['web']);

    const shared = await cli('share', 'add', 'web', folder, '--ro', '--json');
    expect(shared.code, shared.stderr).toBe(0);
    const share = JSON.parse(shared.stdout) as { tag: string; guestPath: string; readOnly: boolean };
    expect(share.readOnly).toBe(true);

    const fstab = await cli('share', 'ls', 'web', '--fstab');
    expect(fstab.code, fstab.stderr).toBe(0);
    expect(fstab.stdout).toContain(`${share.tag} ${share.guestPath} 9p `);
    expect(fstab.stdout).toBe((await runCli(['share', 'ls', 'web', '--fstab'], { env })).stdout);

    const set = await cli('share', 'set', 'web', share.tag, '--rw', '--json');
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ tag: share.tag, readOnly: false });

    // the dry run answers as it does locally (here: the image is not installed, or no VMM is found)
    const planned = await cli('start', 'web', '--dry-run');
    const plannedHere = await runCli(['start', 'web', '--dry-run'], { env });
    expect({ code: planned.code, stdout: planned.stdout, stderr: planned.stderr }).toEqual({
      code: plannedHere.code,
      stdout: plannedHere.stdout,
      stderr: plannedHere.stderr,
    });

    const removed = await cli('rm', 'web', '--delete-root');
    expect(removed, removed.stderr).toMatchObject({ code: 0, stdout: 'Removed the VM web.\n' });
    expect(await cli('ls', '--json')).toMatchObject({ code: 0, stdout: '[]\n' });
    expect(await cli('rm', 'web')).toMatchObject({
      code: 3,
      stderr: 'oklinux: There is no VM or installed image named "web". See "oklinux ls" and "oklinux images".\n',
    });
  });

  it('is the browser caller there: a setting naming a program cannot be changed remotely', async () => {
    const r = await cli('config', 'set', 'bldyPath', '/bin/true');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot be changed from a browser page');
    expect((await cli('config', 'get', 'bldyPath')).stdout).toBe('none\n');
  });
});
