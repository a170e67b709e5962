/**
 * The supervisor loads the QUIC library (@matrixai/quic: JavaScript plus a native addon) only for a VM that
 * has a 9p+quic share: its module, the registry and a 9p:// share's transport leave the addon unmapped
 * (/proc/self/maps of a fresh Node process running the sources through tsx, as `oklinux __supervise` does);
 * a 9p+quic share's transport maps it at its first connection. (The bundled supervisor, dist/cli/supervise.mjs,
 * keeps `import("@matrixai/quic")` dynamic for the same reason: see quic.ts.)
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../helpers/cli';
import { tmpDir } from '../helpers/tmp';
import { makePki, requireOpenssl, type Pki } from './pki';

let tmp: ReturnType<typeof tmpDir>;
let pki: Pki;

beforeAll(() => {
  requireOpenssl();
  tmp = tmpDir('oklinux-quic-lazy-');
  pki = makePki(tmp.dir);
});
afterAll(() => tmp?.cleanup());

/** Runs `body` (an async function's text) in a fresh Node with the sources; prints what it returns as JSON. */
function inFreshNode(body: string): Record<string, unknown> {
  const script = `
    import { register } from 'tsx/esm/api';
    import fs from 'node:fs';
    register({ tsconfig: ${JSON.stringify(path.join(REPO, 'tsconfig.json'))} });
    const src = (p) => ${JSON.stringify(path.join(REPO, 'src-main'))} + '/' + p;
    const quicMapped = () => fs.readFileSync('/proc/self/maps', 'utf8').includes('@matrixai/quic-');
    const out = await (async () => { ${body} })();
    process.stdout.write(JSON.stringify(out));
    process.exit(0);
  `;
  return JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO, encoding: 'utf8' }),
  ) as Record<string, unknown>;
}

describe('the QUIC library is loaded only for 9p+quic shares', () => {
  it('not by the supervisor, the registry, or a 9p:// share; yes at the first 9p+quic connection', () => {
    const out = inFreshNode(`
      await import(src('core/vm/supervise-main.ts'));
      const { openTransport } = await import(src('core/remote/registry.ts'));
      const tcp = await openTransport({ url: '9p://127.0.0.1:9/srv' });
      const afterTcp = quicMapped();
      const quic = await openTransport({
        url: '9p+quic://localhost:9/srv',
        tls: { ca: ${JSON.stringify(pki.ca)} },
      });
      const afterQuicTransport = quicMapped();
      // nothing answers QUIC on UDP port 9 here: the connection fails (timeout or ICMP), after loading the library
      const failed = await quic.connect().then(() => 'connected', (e) => e.message);
      await quic.close();
      return { tcp: tcp.label, afterTcp, afterQuicTransport, failed, afterConnect: quicMapped() };
    `);
    expect(out).toEqual({
      tcp: '127.0.0.1:9',
      afterTcp: false,
      afterQuicTransport: false,
      failed: expect.stringMatching(/^localhost:9: /),
      afterConnect: true,
    });
  });
});
