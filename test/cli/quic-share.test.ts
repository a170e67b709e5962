/**
 * `oklinux share add VM 9p+quic://HOST:PORT/ANAME --ca FILE [--cert FILE --key FILE]` with bad input, through
 * the real CLI: each refusal names the problem and the fix. Then what is stored (SQLite on disk): the
 * realpaths of the files, never the key's contents; a symbolic link swapped after the add changes nothing,
 * and a stored file that was swapped for a link, or a key opened to others, is refused when it is read
 * again (as the supervisor reads it at each connection). Certificates come from Debian's openssl.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Share } from '@contract';
import { Store } from '@core/store';
import { readQuicTls } from '@core/remote/quic-url';
import { openTransport } from '@core/remote/registry';
import { spawn } from 'node:child_process';
import { OKLINUX_BIN, runCli } from '../helpers/cli';
import { tmpDir } from '../helpers/tmp';
import { vmEnv } from '../helpers/vm';
import { makePki, requireOpenssl, type Pki } from '../remote/pki';

const t = tmpDir('oklinux-quicshare-');
const home = path.join(t.dir, 'data');
const env = vmEnv(home);
const cli = (...args: string[]) => runCli(args, { env });
const pkiDir = path.join(t.dir, 'pki');
let pki: Pki;
const URL1 = '9p+quic://files.example:4433/srv/data';

async function refused(args: string[], re: RegExp): Promise<void> {
  const r = await cli('share', 'add', 'v', ...args);
  expect(r.code, r.stdout).not.toBe(0);
  expect(r.stderr).toMatch(re);
}

beforeAll(async () => {
  requireOpenssl();
  fs.mkdirSync(pkiDir, { mode: 0o700 });
  pki = makePki(pkiDir);
  const c = await cli('create', 'v', '--image', 'k', '--net', 'restricted');
  expect(c.code, c.stderr).toBe(0);
});

afterAll(() => t.cleanup());

describe('share add 9p+quic:// refuses bad input, naming the fix', () => {
  it('no --ca; --cert without --key and the reverse; TLS files for a 9p:// share or a folder', async () => {
    await refused(
      [URL1],
      /9p\+quic needs --ca FILE: the one CA certificate \(PEM\) that signed the server's certificate/,
    );
    await refused(
      [URL1, '--ca', pki.ca, '--cert', pki.clientCert],
      /--cert was given without --key: give the client key too \(--key FILE\), or neither/,
    );
    await refused(
      [URL1, '--ca', pki.ca, '--key', pki.clientKey],
      /--key was given without --cert: give the client certificate too \(--cert FILE\), or neither/,
    );
    await refused(
      ['9p://127.0.0.1:5640/srv', '--ca', pki.ca],
      /--ca, --cert and --key are for 9p\+quic:\/\/ shares; 9p:\/\/127\.0\.0\.1:5640\/srv is plain 9p over TCP/,
    );
    await refused([t.dir, '--ca', pki.ca], /--ca, --cert and --key are for 9p\+quic:\/\/ shares, not a host folder/);
  });

  it('an IP address for HOST, no port, an aname the guest cannot mount', async () => {
    await refused(
      ['9p+quic://127.0.0.1:4433/srv', '--ca', pki.ca],
      /names the server by IP address \(127\.0\.0\.1\).*host name written in the server's certificate/,
    );
    await refused(['9p+quic://files.example/srv', '--ca', pki.ca], /has no port; JetStream has no default port/);
    await refused(
      ['9p+quic://files.example:4433/my%20share', '--ca', pki.ca],
      /has the aname "\/my share" with characters other than letters, digits.*write it as 9p\+quic:\/\/HOST:PORT\/ANAME/,
    );
  });

  it("missing or unreadable files, a file that is no certificate, a key that is not the certificate's", async () => {
    await refused(
      [URL1, '--ca', path.join(t.dir, 'nope.crt')],
      /CA file .*nope\.crt \(--ca\) does not exist: give the path of a PEM file/,
    );
    await refused([URL1, '--ca', pkiDir], /CA file .*pki \(--ca\) is not a regular file/);
    fs.writeFileSync(path.join(t.dir, 'junk.pem'), 'not a certificate\n');
    await refused(
      [URL1, '--ca', path.join(t.dir, 'junk.pem')],
      /CA file .*junk\.pem \(--ca\) holds no PEM certificate/,
    );
    await refused(
      [URL1, '--ca', pki.ca, '--cert', pki.clientCert, '--key', pki.otherClientKey],
      /client key .*otherclient\.key \(--key\) is not the key of certificate .*client\.crt \(--cert\)/,
    );
    const notKey = path.join(t.dir, 'not-a-key.pem');
    fs.copyFileSync(pki.clientCert, notKey);
    fs.chmodSync(notKey, 0o600);
    await refused(
      [URL1, '--ca', pki.ca, '--cert', pki.clientCert, '--key', notKey],
      /client key .*not-a-key\.pem \(--key\) cannot be read as a PEM private key/,
    );
  });

  it('a key file others can read is refused, as ssh does, with the chmod that fixes it', async () => {
    const open = path.join(t.dir, 'open.key');
    fs.copyFileSync(pki.clientKey, open);
    fs.chmodSync(open, 0o644);
    await refused(
      [URL1, '--ca', pki.ca, '--cert', pki.clientCert, '--key', open],
      /client key .*open\.key \(--key\) can be read or written by other users \(mode 644\): run chmod 600 .*open\.key/,
    );
    // owned by another user (tests run as root, who can chown): refused even at mode 600
    if (process.getuid?.() !== 0) throw new Error('this test runs as root, to give a key file to another user');
    const theirs = path.join(t.dir, 'theirs.key');
    fs.copyFileSync(pki.clientKey, theirs);
    fs.chmodSync(theirs, 0o600);
    fs.chownSync(theirs, 65534, 65534);
    await refused(
      [URL1, '--ca', pki.ca, '--cert', pki.clientCert, '--key', theirs],
      /client key .*theirs\.key \(--key\) belongs to another user \(uid 65534\): use a key file of your own, with mode 600/,
    );
    expect(JSON.parse((await cli('share', 'ls', 'v', '--json')).stdout)).toEqual([]);
  });
});

describe('TLS files where a guest reaches them are refused (the host trusts them; a guest could read the key)', () => {
  it('in the data directory, a VM root or a share a guest can write; the key in any share, read-only too', async () => {
    const w = (...args: string[]) => runCli(args, { env });
    expect((await w('create', 'w', '--image', 'k', '--net', 'restricted', '--backend', 'qemu')).code).toBe(0);
    const rw = path.join(t.dir, 'rw-share');
    const ro = path.join(t.dir, 'ro-share');
    fs.mkdirSync(rw);
    fs.mkdirSync(ro);
    expect((await w('share', 'add', 'w', rw)).code).toBe(0);
    expect((await w('share', 'add', 'w', ro, '--ro')).code).toBe(0);
    const put = (dir: string, src: string, name: string): string => {
      const f = path.join(dir, name);
      fs.copyFileSync(src, f);
      fs.chmodSync(f, 0o600);
      return f;
    };
    const add = (...args: string[]) => w('share', 'add', 'w', URL1, ...args);
    const no = async (args: string[], re: RegExp) => {
      const r = await add(...args);
      expect(r.code, r.stdout).not.toBe(0);
      expect(r.stderr).toMatch(re);
    };
    // a CA the guest of "w" can rewrite: it would choose which server the host trusts
    await no(
      ['--ca', put(rw, pki.ca, 'ca.pem')],
      /CA file .*rw-share\/ca\.pem \(--ca\) lies inside the share "rw-share" of the VM "w" .*which a guest can write: move it to a folder no VM shares/,
    );
    // the client key in a read-only share: the guest reads it and is the user to the server
    await no(
      ['--ca', pki.ca, '--cert', pki.clientCert, '--key', put(ro, pki.clientKey, 'client.key')],
      /client key .*ro-share\/client\.key \(--key\) lies inside the share "ro-share" of the VM "w" .*which a guest can read or write/,
    );
    // the data directory (VM roots and disks live there)
    await no(['--ca', put(home, pki.ca, 'ca.pem')], /CA file .* \(--ca\) lies inside the data directory/);
    // a CA in a read-only share is public and unchangeable by the guest: accepted
    const ok = await add('--ca', put(ro, pki.ca, 'ca.pem'));
    expect(ok.code, ok.stderr).toBe(0);
    expect((await w('rm', 'w')).code).toBe(0);
  });
});

describe('what is stored', () => {
  it('the realpaths of the files (links and relative paths resolved), never their contents', async () => {
    const links = path.join(t.dir, 'links');
    fs.mkdirSync(links);
    fs.symlinkSync(pki.ca, path.join(links, 'ca.pem'));
    fs.symlinkSync(pki.clientKey, path.join(links, 'key.pem'));
    // relative paths are taken from the command's working directory
    const add = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const args = [
        'share',
        'add',
        'v',
        URL1,
        '--ca',
        'links/ca.pem',
        '--cert',
        pki.clientCert,
        '--key',
        'links/key.pem',
      ];
      const child = spawn(process.execPath, [OKLINUX_BIN, ...args, '--ro', '--json'], { cwd: t.dir, env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    expect(add.code, add.stderr).toBe(0);
    const share = Share.parse(JSON.parse(add.stdout));
    const tls = {
      ca: fs.realpathSync(pki.ca),
      cert: fs.realpathSync(pki.clientCert),
      key: fs.realpathSync(pki.clientKey),
    };
    expect(share).toMatchObject({
      tag: 'data',
      hostPath: URL1,
      guestPath: '/mnt/data',
      readOnly: true,
      remote: { url: URL1, state: 'idle', problem: null, tls },
    });
    const store = new Store(path.join(home, 'oklinux.db'));
    try {
      expect(store.remoteShares.list('v')).toMatchObject([{ tag: 'data', url: URL1, tls }]);
      const raw = store.db.prepare('SELECT tls_ca, tls_cert, tls_key FROM remote_shares').all();
      expect(raw).toEqual([{ tls_ca: tls.ca, tls_cert: tls.cert, tls_key: tls.key }]);
    } finally {
      store.close();
    }
    const keyBody = fs.readFileSync(pki.clientKey, 'utf8').split('\n')[1]!;
    for (const f of fs.readdirSync(home).filter((f) => f.startsWith('oklinux.db')))
      expect(fs.readFileSync(path.join(home, f)).includes(keyBody), f).toBe(false);

    // the link given as --ca now points at another CA: the stored realpath is what counts
    fs.rmSync(path.join(links, 'ca.pem'));
    fs.symlinkSync(pki.otherCa, path.join(links, 'ca.pem'));
    expect(readQuicTls(tls).ca).toBe(pem(pki.ca));
  });
});

const pem = (f: string) =>
  /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(fs.readFileSync(f, 'utf8'))![0];

describe('read again at each connection (the supervisor): a file changed since the add makes the share unreachable', () => {
  const copy = (name: string, from: string, mode = 0o600) => {
    const p = path.join(t.dir, 'attack', name);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.copyFileSync(from, p);
    fs.chmodSync(p, mode);
    return fs.realpathSync(p);
  };
  // the transport the supervisor's relay gets (registry.ts), so its refusals are what `share ls` shows
  const connectFails = async (tls: { ca: string; cert?: string; key?: string }) => {
    const transport = await openTransport({ url: URL1, tls });
    try {
      await transport.connect();
      throw new Error('connected');
    } catch (e) {
      return (e as Error).message;
    } finally {
      await transport.close?.();
    }
  };

  it('a stored CA swapped for a symbolic link (to another CA) is refused, not followed', async () => {
    const ca = copy('ca.crt', pki.ca);
    fs.rmSync(ca);
    fs.symlinkSync(pki.otherCa, ca);
    expect(await connectFails({ ca })).toMatch(
      /CA file .*attack\/ca\.crt \(--ca\) now resolves to another file \(a symbolic link was put in its path\) since the share was added; check it, then remove the share and add it again/,
    );
  });

  it('a folder in the stored path swapped for a link is refused too', async () => {
    const dir = path.join(t.dir, 'attack2');
    fs.mkdirSync(dir);
    const ca = path.join(dir, 'ca.crt');
    fs.copyFileSync(pki.ca, ca);
    fs.renameSync(dir, `${dir}.old`);
    fs.mkdirSync(path.join(t.dir, 'evil'));
    fs.copyFileSync(pki.otherCa, path.join(t.dir, 'evil', 'ca.crt'));
    fs.symlinkSync(path.join(t.dir, 'evil'), dir);
    expect(await connectFails({ ca })).toMatch(/now resolves to another file/);
  });

  it('a missing file, or a key opened to other users since, is refused with the fix', async () => {
    expect(await connectFails({ ca: path.join(t.dir, 'attack', 'gone.crt') })).toMatch(
      /CA file .*gone\.crt \(--ca\) no longer exists since the share was added/,
    );
    const ca = copy('ca2.crt', pki.ca, 0o644);
    const cert = copy('client.crt', pki.clientCert, 0o644);
    const key = copy('client.key', pki.clientKey);
    fs.chmodSync(key, 0o640);
    expect(await connectFails({ ca, cert, key })).toMatch(
      /client key .*client\.key \(--key\) can be read or written by other users \(mode 640\): run chmod 600/,
    );
  });
});

describe('the contract (what IPC and the WebSocket carry)', () => {
  it('takes absolute paths only; the engine refuses TLS files for a 9p:// URL', async () => {
    const { Engine } = await import('@core/engine');
    const engine = new Engine({ home, env });
    try {
      const rel = await engine.call('shares:addRemote', { vm: 'v', url: URL1, ca: 'ca.pem' }, 'local');
      expect(rel).toMatchObject({
        error: { code: 'INVALID_INPUT', message: expect.stringMatching(/ca.*absolute path/) },
      });
      const plain = await engine.call(
        'shares:addRemote',
        { vm: 'v', url: '9p://127.0.0.1/srv', key: pki.clientKey },
        'local',
      );
      expect(plain).toMatchObject({
        error: { code: 'INVALID_INPUT', message: expect.stringMatching(/are for 9p\+quic/) },
      });
    } finally {
      await engine.close();
    }
  });
});
