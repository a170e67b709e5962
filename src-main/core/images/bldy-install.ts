/**
 * Putting a downloaded, verified bldy into `<data>/bin/bldy`. The copy is
 * hashed again (it is what runs, and the store file could have changed since it
 * was verified), must answer `--version`, and its digest is recorded in
 * `installed_vmms` before it is renamed into place, so a crash in between
 * leaves the old bldy refused at start, never a new one trusted. Starts check
 * the file against that record (vm/backend.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import type { EngineContext } from '@core/context';
import { OkError } from '@contract/errors';
import { checkPinned } from './integrity';

export async function installBldy(
  ctx: EngineContext,
  opts: { from: string; sha256: string; version: string },
): Promise<string> {
  fs.mkdirSync(ctx.paths.bin, { recursive: true });
  const dest = path.join(ctx.paths.bin, 'bldy');
  const tmp = `${dest}.tmp-${process.pid}`;
  fs.rmSync(tmp, { force: true });
  fs.copyFileSync(opts.from, tmp, fs.constants.COPYFILE_EXCL);
  fs.chmodSync(tmp, 0o755);
  try {
    await checkPinned({
      what: `the downloaded bldy ${opts.version}`,
      path: tmp,
      sha256: opts.sha256,
      repair: 'Pull it again.',
    });
    const version = await new Promise<string>((resolve, reject) =>
      execFile(tmp, ['--version'], { timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout.trim()))),
    ).catch((e: unknown) => {
      throw new OkError(
        'VMM',
        `The downloaded bldy ${opts.version} does not run on this machine (${(e as Error).message}); it was not installed.`,
      );
    });
    ctx.store.vmms.record('bldy', opts.sha256, version);
    fs.renameSync(tmp, dest);
    ctx.store.events.append('vmm.installed', 'bldy', { version, sha256: opts.sha256 });
    return dest;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}
