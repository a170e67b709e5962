import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OkError } from '@contract/errors';
import { connectQmp, type QmpClient, type QmpEvent } from '@core/vmm/qmp';
import { requireQemu, startQemu, stopQemu, type RunningQemu } from './qemu-process';

let tmp: string;
let n = 0;
const running: RunningQemu[] = [];

beforeAll(() => {
  requireQemu();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oklinux-qmp-'));
});
afterEach(async () => {
  for (const q of running.splice(0)) await stopQemu(q);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A paused QEMU with no kernel and no devices, QMP on a fresh socket. */
function qemuWithQmp(): { q: RunningQemu; sock: string } {
  const sock = path.join(tmp, `qmp-${++n}.sock`);
  const q = startQemu([
    '-accel',
    'tcg',
    '-nodefaults',
    '-display',
    'none',
    '-S',
    '-qmp',
    `unix:${sock},server=on,wait=off`,
  ]);
  running.push(q);
  return { q, sock };
}

function nextEvent(qmp: QmpClient, name: string): Promise<QmpEvent> {
  return new Promise((resolve) => {
    const on = (e: QmpEvent): void => {
      if (e.event !== name) return;
      qmp.off('event', on);
      resolve(e);
    };
    qmp.on('event', on);
  });
}

describe('QMP client against a real QEMU', () => {
  it('connects while QEMU is still creating the socket, negotiates, and runs commands', async () => {
    const { sock } = qemuWithQmp();
    const qmp = await connectQmp(sock);
    expect(await qmp.queryStatus()).toEqual({ status: 'prelaunch', running: false });
    const version = await qmp.execute<{ qemu: { major: number } }>('query-version');
    expect(version.qemu.major).toBeGreaterThanOrEqual(7);
    expect(await qmp.execute('qom-get', { path: '/machine', property: 'type' })).toMatch(/-machine$/);
    qmp.close();
    await qmp.closed;
  });

  it('reports QMP errors with their class and description', async () => {
    const { sock } = qemuWithQmp();
    const qmp = await connectQmp(sock);
    const e = await qmp.execute('no-such-command').catch((err: unknown) => err);
    expect(e).toBeInstanceOf(OkError);
    expect((e as OkError).code).toBe('VMM');
    expect((e as OkError).message).toMatch(/"no-such-command" failed: CommandNotFound: /);
    const bad = await qmp.execute('qom-get', { path: '/nowhere', property: 'x' }).catch((err: unknown) => err);
    expect((bad as OkError).message).toMatch(/failed: DeviceNotFound: .*'\/nowhere'/);
    qmp.close();
  });

  it('delivers events: run state changes and the power button', async () => {
    const { sock } = qemuWithQmp();
    const qmp = await connectQmp(sock);
    const resumed = nextEvent(qmp, 'RESUME');
    await qmp.execute('cont');
    await resumed;
    expect((await qmp.queryStatus()).running).toBe(true);
    const stopped = nextEvent(qmp, 'STOP');
    await qmp.execute('stop');
    await stopped;
    expect(await qmp.queryStatus()).toEqual({ status: 'paused', running: false });
    const powerdown = nextEvent(qmp, 'POWERDOWN');
    await qmp.systemPowerdown();
    expect((await powerdown).event).toBe('POWERDOWN');
    qmp.close();
  });

  it('times out on a silent QEMU, then ignores the late answer', async () => {
    const { q, sock } = qemuWithQmp();
    const qmp = await connectQmp(sock);
    q.child.kill('SIGSTOP');
    try {
      const e = await qmp.execute('query-status', undefined, { timeoutMs: 300 }).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(OkError);
      expect((e as OkError).code).toBe('TIMEOUT');
      expect((e as OkError).message).toContain('"query-status" got no answer within 300 ms');
    } finally {
      q.child.kill('SIGCONT');
    }
    expect(await qmp.execute('query-name')).toEqual({});
    expect((await qmp.queryStatus()).status).toBe('prelaunch');
    qmp.close();
  });

  it('rejects pending commands when QEMU dies', async () => {
    const { q, sock } = qemuWithQmp();
    const qmp = await connectQmp(sock);
    q.child.kill('SIGSTOP');
    const pending = qmp.execute('query-status').catch((err: unknown) => err);
    q.child.kill('SIGKILL');
    const e = (await pending) as OkError;
    expect(e.code).toBe('VMM');
    expect(e.message).toMatch(/closed before "query-status" was answered/);
    await qmp.closed;
    await expect(qmp.execute('query-status')).rejects.toMatchObject({
      code: 'VMM',
      message: expect.stringMatching(/is closed/),
    });
  });

  it('quit ends QEMU with exit code 0 and closes the connection', async () => {
    const { q, sock } = qemuWithQmp();
    const qmp = await connectQmp(sock);
    const closed = once(qmp, 'close');
    await qmp.quit();
    await closed;
    expect(await q.exited).toEqual({ code: 0, signal: null });
  });

  it('fails with VMM naming the socket when nothing listens', async () => {
    const sock = path.join(tmp, 'nobody-here.sock');
    const e = (await connectQmp(sock, { timeoutMs: 200 }).catch((err: unknown) => err)) as OkError;
    expect(e).toBeInstanceOf(OkError);
    expect(e.code).toBe('VMM');
    expect(e.message).toContain(`cannot connect to QMP socket ${sock} (ENOENT)`);
  });
});
