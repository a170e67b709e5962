/**
 * Each backend's row of facts (facts.ts) with the one thing that is code: turning a `VmSpec` into the
 * VMM's argv. bldy's shares go through symlinks in the run directory when their paths hold a character
 * its command line cannot carry; a dry run (`prepare: false`) only plans them.
 */
import fs from 'node:fs';
import { bldyArgv, planBldyShares, prepareBldyShares } from './bldy';
import { BACKEND_FACTS, type BackendFacts } from './facts';
import { qemuArgv } from './qemu';
import type { VmSpec, VmmBackend } from './types';

export interface Backend extends BackendFacts {
  argv(spec: VmSpec, opts: { prepare: boolean }): Promise<string[]>;
}

export const BACKENDS: Readonly<Record<VmmBackend, Backend>> = {
  qemu: { ...BACKEND_FACTS.qemu, argv: async (spec) => qemuArgv(spec) },
  bldy: {
    ...BACKEND_FACTS.bldy,
    argv: async (spec, { prepare }) => {
      if (prepare) fs.mkdirSync(spec.runDir, { recursive: true });
      return bldyArgv(spec, prepare ? await prepareBldyShares(spec) : planBldyShares(spec));
    },
  },
};
