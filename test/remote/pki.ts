/**
 * A test PKI made at run time with Debian's `openssl`: a CA, a server certificate for localhost (and
 * 127.0.0.1), a client certificate, and a second, unrelated CA that signs nothing the server uses.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface Pki {
  ca: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  otherCa: string;
  otherCaKey: string;
  otherClientCert: string;
  otherClientKey: string;
}

/** Fails naming the package when `openssl` is missing. */
export function requireOpenssl(): void {
  if (spawnSync('openssl', ['version']).status !== 0)
    throw new Error('these tests need openssl (Debian package openssl) to make a test CA');
}

function ossl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** `openssl req` arguments for a new P-256 key `<name>.key` (unencrypted) and a request or certificate `out` for CN=name. */
function newKeyArgs(name: string, out: string): string[] {
  return [
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    out,
    '-subj',
    `/CN=${name}`,
  ];
}

function makeCa(dir: string, name: string): void {
  ossl(
    [
      'req',
      '-x509',
      ...newKeyArgs(name, `${name}.crt`),
      '-days',
      '2',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
}

function makeLeaf(dir: string, name: string, ca: string, ext: string): void {
  ossl(['req', ...newKeyArgs(name, `${name}.csr`)], dir);
  fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
  ossl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.crt`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    ],
    dir,
  );
  fs.chmodSync(path.join(dir, `${name}.key`), 0o600);
}

export function makePki(dir: string): Pki {
  makeCa(dir, 'ca');
  makeCa(dir, 'otherca');
  makeLeaf(dir, 'server', 'ca', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  makeLeaf(dir, 'client', 'ca', 'extendedKeyUsage=clientAuth\n');
  makeLeaf(dir, 'otherclient', 'otherca', 'extendedKeyUsage=clientAuth\n');
  const p = (f: string) => path.join(dir, f);
  return {
    ca: p('ca.crt'),
    caKey: p('ca.key'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    otherCa: p('otherca.crt'),
    otherCaKey: p('otherca.key'),
    otherClientCert: p('otherclient.crt'),
    otherClientKey: p('otherclient.key'),
  };
}
