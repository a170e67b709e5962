/**
 * Installing bldy from a manifest's `vmm` entry: downloaded, verified, made
 * executable, and counted as installed only once `bldy --version` runs. A
 * stand-in script plays bldy (the real one cannot be built here).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DoctorReport } from '@contract';
import { Store, openDb } from '@core/store';
import { MIGRATIONS } from '@core/store/migrations';
import { sha256Hex } from '../helpers/http';
import { sandbox, type Sandbox } from './fixtures';

let s: Sandbox;
beforeEach(async () => {
  s = await sandbox();
});
afterEach(async () => {
  await s.close();
});

function publishVmm(body: Buffer, opts: { lie?: boolean } = {}): void {
  s.server.route('/vmm/bldy', { body });
  s.server.route('/vmm/manifest.json', {
    body: Buffer.from(
      JSON.stringify({
        schema: 1,
        vmm: [
          {
            name: 'bldy',
            version: '0.1.0-test',
            os: 'linux',
            arch: 'x86_64',
            url: 'bldy',
            sha256: opts.lie ? '0'.repeat(64) : sha256Hex(body),
          },
        ],
      }),
    ),
  });
}

describe('oklinux pull bldy', () => {
  it('installs a verified, runnable bldy, which doctor then chooses', async () => {
    publishVmm(Buffer.from('#!/bin/sh\n[ "$1" = --version ] && echo "bldy 0.1.0-test" && exit 0\nexit 2\n'));
    expect((await s.cli(['catalog', 'add', s.server.url('/vmm/manifest.json')])).code).toBe(0);
    const r = await s.cli(['pull', 'bldy']);
    expect(r.code, r.stderr).toBe(0);
    const bin = path.join(s.home, 'bin', 'bldy');
    expect(r.stdout).toContain(`Installed bldy at ${bin}`);
    expect(fs.statSync(bin).mode & 0o777).toBe(0o755);
    const doctor = DoctorReport.parse(JSON.parse((await s.cli(['doctor', '--json'])).stdout));
    expect(doctor.vmm).toEqual({ chosen: 'bldy', path: bin, reason: 'bldy installed by okLinux Desktop' });
    // its digest is on record, for the check before each start
    const store = new Store(path.join(s.home, 'oklinux.db'));
    try {
      expect(store.vmms.get('bldy')).toMatchObject({
        sha256: sha256Hex(fs.readFileSync(bin)),
        version: 'bldy 0.1.0-test',
      });
    } finally {
      store.close();
    }
  });

  it('keeps the digest of a bldy installed before digests had their own table (migration 3)', () => {
    const file = path.join(s.work, 'v2.db');
    const v2 = openDb(file, MIGRATIONS.slice(0, 2));
    const event = v2.prepare("INSERT INTO events(at, kind, subject, data) VALUES (?, 'vmm.installed', 'bldy', ?)");
    event.run('2026-01-01T00:00:00Z', JSON.stringify({ version: 'bldy 0.1', sha256: 'a'.repeat(64) }));
    event.run('2026-02-01T00:00:00Z', JSON.stringify({ version: 'bldy 0.2', sha256: 'b'.repeat(64) }));
    v2.close();
    const store = new Store(file);
    try {
      expect(store.vmms.get('bldy')).toEqual({
        name: 'bldy',
        sha256: 'b'.repeat(64),
        version: 'bldy 0.2',
        installedAt: '2026-02-01T00:00:00Z',
      });
    } finally {
      store.close();
    }
  });

  it('does not install a bldy that does not run', async () => {
    publishVmm(Buffer.from('#!/bin/sh\nexit 3\n'));
    expect((await s.cli(['catalog', 'add', s.server.url('/vmm/manifest.json')])).code).toBe(0);
    const broken = await s.cli(['pull', 'bldy']);
    expect(broken.code).toBe(7);
    expect(broken.stderr).toMatch(/The downloaded bldy 0\.1\.0-test does not run on this machine/);
    expect(fs.existsSync(path.join(s.home, 'bin', 'bldy'))).toBe(false);
  });

  it('does not install a bldy whose digest is wrong', async () => {
    publishVmm(Buffer.from('#!/bin/sh\necho ok\n'), { lie: true });
    expect((await s.cli(['catalog', 'add', s.server.url('/vmm/manifest.json')])).code).toBe(0);
    const lying = await s.cli(['pull', 'bldy']);
    expect(lying.code).toBe(6);
    expect(lying.stderr).toContain('0'.repeat(64));
    expect(fs.existsSync(path.join(s.home, 'bin', 'bldy'))).toBe(false);
  });
});
