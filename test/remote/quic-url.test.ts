/**
 * `9p+quic://HOST:PORT/ANAME --ca FILE [--cert FILE --key FILE]`: the URL's parts, and the checks on the files
 * (realpath, readable, key mode, exactly one CA, a key that matches its certificate), each refusal naming the
 * problem and the fix. Certificates are made at run time with Debian's openssl.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseQuicUrl, readQuicTls, resolveQuicFiles } from '@core/remote/quic-url';
import { tmpDir } from '../helpers/tmp';
import { makePki, requireOpenssl, type Pki } from './pki';

let tmp: ReturnType<typeof tmpDir>;
let pki: Pki;

beforeAll(() => {
  requireOpenssl();
  tmp = tmpDir('oklinux-quic-url-');
  pki = makePki(tmp.dir);
});
afterAll(() => tmp?.cleanup());

describe('parseQuicUrl', () => {
  it('reads host, port and the attach name (percent-decoded; none → "")', () => {
    expect(parseQuicUrl('9p+quic://Files.Example:4433/srv/my%20share')).toEqual({
      host: 'files.example',
      port: 4433,
      aname: '/srv/my share',
    });
    expect(parseQuicUrl('9p+quic://localhost:4433')).toEqual({ host: 'localhost', port: 4433, aname: '' });
    expect(parseQuicUrl('9p+quic://localhost:4433/')).toEqual({ host: 'localhost', port: 4433, aname: '' });
  });

  it('requires the port: JetStream has none by default', () => {
    expect(() => parseQuicUrl('9p+quic://files.example/srv')).toThrow(/has no port; JetStream has no default port/);
  });

  it('refuses other schemes, credentials, queries and bad ports', () => {
    expect(() => parseQuicUrl('9p://files.example:564/srv')).toThrow(/is not a 9p\+quic URL/);
    expect(() => parseQuicUrl('9p+quic://u:p@files.example:4433/srv')).toThrow(/user or password/);
    expect(() => parseQuicUrl('9p+quic://files.example:4433/srv?x=1')).toThrow(/query or fragment/);
    expect(() => parseQuicUrl('9p+quic://files.example:99999/srv')).toThrow(/not a valid URL/);
    expect(() => parseQuicUrl('9p+quic://files.example:0/srv')).toThrow(/port 0 is not 1-65535/);
  });

  it('refuses an IP address, naming the fix: the certificate name is what the QUIC library checks', () => {
    expect(() => parseQuicUrl('9p+quic://127.0.0.1:4433/srv')).toThrow(
      /by IP address \(127\.0\.0\.1\).*host name written in the server's certificate.*localhost/,
    );
    expect(() => parseQuicUrl('9p+quic://[::1]:4433/srv')).toThrow(/by IP address \(::1\)/);
  });
});

describe('resolveQuicFiles and readQuicTls', () => {
  it('resolves symlinks (realpath) and reads a CA, a client certificate and its key', () => {
    const link = path.join(tmp.dir, 'ca-link.pem');
    fs.symlinkSync(pki.ca, link);
    const files = resolveQuicFiles({ ca: link, cert: pki.clientCert, key: pki.clientKey });
    expect(files).toEqual({
      ca: fs.realpathSync(pki.ca),
      cert: fs.realpathSync(pki.clientCert),
      key: fs.realpathSync(pki.clientKey),
    });
    const tls = readQuicTls(files);
    expect(tls.ca).toContain('BEGIN CERTIFICATE');
    expect(tls.key).toContain('PRIVATE KEY');
  });

  it('needs --ca, and a missing CA file is named', () => {
    expect(() => resolveQuicFiles({})).toThrow(/needs --ca FILE/);
    expect(() => resolveQuicFiles({ ca: path.join(tmp.dir, 'nope.pem') })).toThrow(
      /CA file .*nope\.pem \(--ca\) does not exist/,
    );
    expect(() => resolveQuicFiles({ ca: tmp.dir })).toThrow(/is not a regular file/);
  });

  it('refuses --cert without --key and --key without --cert', () => {
    expect(() => resolveQuicFiles({ ca: pki.ca, cert: pki.clientCert })).toThrow(/--cert was given without --key/);
    expect(() => resolveQuicFiles({ ca: pki.ca, key: pki.clientKey })).toThrow(/--key was given without --cert/);
  });

  it('refuses a key others can read, with the chmod that fixes it', () => {
    const k = path.join(tmp.dir, 'open.key');
    fs.copyFileSync(pki.clientKey, k);
    fs.chmodSync(k, 0o644);
    expect(() => resolveQuicFiles({ ca: pki.ca, cert: pki.clientCert, key: k })).toThrow(
      /mode 644\): run chmod 600 .*open\.key/,
    );
  });

  it('refuses a CA file with no certificate, or with more than one (JetStream trusts exactly one CA)', () => {
    const empty = path.join(tmp.dir, 'empty.pem');
    fs.writeFileSync(empty, 'not a certificate\n');
    expect(() => readQuicTls(resolveQuicFiles({ ca: empty }))).toThrow(/holds no PEM certificate/);
    const two = path.join(tmp.dir, 'two.pem');
    fs.writeFileSync(two, fs.readFileSync(pki.ca, 'utf8') + fs.readFileSync(pki.otherCa, 'utf8'));
    expect(() => readQuicTls(resolveQuicFiles({ ca: two }))).toThrow(
      /holds 2 certificates; JetStream's client trusts exactly one CA/,
    );
  });

  it("refuses a key that is not the certificate's", () => {
    const files = resolveQuicFiles({ ca: pki.ca, cert: pki.clientCert, key: pki.otherClientKey });
    expect(() => readQuicTls(files)).toThrow(/otherclient\.key \(--key\) is not the key of certificate .*client\.crt/);
  });
});
