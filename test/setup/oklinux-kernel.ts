/**
 * Vitest globalSetup: the okLinux-shaped test kernel (test/fixtures/oklinux-kernel.ts), built before
 * any test runs so that its first build (about 10-12 min on 2 cores, once per machine) never meets a
 * test or hook timeout. Its path reaches the test processes in OKLINUX_TEST_KERNEL. A build that
 * cannot run fails the whole run with the package to install: it is never skipped.
 */
import { buildOkKernel, KERNEL_ENV } from '../fixtures/oklinux-kernel';

export default async function setup(): Promise<void> {
  process.env[KERNEL_ENV] = await buildOkKernel((line) => process.stderr.write(`${line}\n`));
}
