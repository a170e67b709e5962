#!/usr/bin/env node
// `node bin/oklinux.mjs`, as the `oklinux` command ran before package.json's "bin" named bin/oklinux.cjs:
// the same command (see there), kept for scripts that name this file.
import './oklinux.cjs';
