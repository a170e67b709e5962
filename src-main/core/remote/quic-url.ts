/**
 * `9p+quic://HOST:PORT/ANAME --ca FILE [--cert FILE --key FILE]`: a JetStream share's address and the files
 * its TLS needs. Every path goes through realpath before it is checked; the key file's contents are read by
 * the supervisor itself and never put in argv or the environment.
 */
import fs from 'node:fs';
import net from 'node:net';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { OkError } from '@contract/errors';

export const QUIC_SCHEME = '9p+quic:';
/** The ALPN JetStream's QUIC server speaks (jetstream_quic, `ALPN = "jetstream"`). */
export const JETSTREAM_ALPN = 'jetstream';

export interface QuicAddress {
  /** A host name, as written (lower-cased). The server's certificate must name it. */
  host: string;
  port: number;
  /** The 9P attach name: the URL's path, percent-decoded ("/srv/x"), or "" when the URL has none. */
  aname: string;
}

export interface QuicTlsFiles {
  /** realpath of the one CA certificate the server's certificate must chain to. */
  ca: string;
  /** realpaths of the client certificate and its key, for mTLS; both or neither. */
  cert?: string;
  key?: string;
}

/** What a QUIC connection needs, read from the files (in memory only). */
export interface QuicTlsMaterial {
  ca: string;
  cert?: string;
  key?: string;
}

const USAGE = 'the form is 9p+quic://HOST:PORT/ANAME, for example 9p+quic://files.example:4433/srv/share';

/** Parses `9p+quic://HOST:PORT/ANAME`. The port is required: JetStream has no default port. */
export function parseQuicUrl(url: string): QuicAddress {
  // WHATWG URLs cannot start a scheme with a digit, so the rest is parsed under a stand-in scheme.
  if (!url.toLowerCase().startsWith(`${QUIC_SCHEME}//`))
    throw new OkError('INVALID_INPUT', `"${url}" is not a 9p+quic URL: ${USAGE}`);
  let u: URL;
  try {
    u = new URL(`x-jetstream:${url.slice(QUIC_SCHEME.length)}`);
  } catch {
    throw new OkError('INVALID_INPUT', `"${url}" is not a valid URL: ${USAGE}`);
  }
  if (u.username || u.password)
    throw new OkError(
      'INVALID_INPUT',
      `"${url}" has a user or password: leave them out; the client certificate (--cert, --key) authenticates`,
    );
  if (u.search || u.hash) throw new OkError('INVALID_INPUT', `"${url}" has a query or fragment: ${USAGE}`);
  const host = u.hostname.toLowerCase();
  if (!host) throw new OkError('INVALID_INPUT', `"${url}" has no host: ${USAGE}`);
  const bare = host.startsWith('[') ? host.slice(1, -1) : host;
  if (net.isIP(bare))
    throw new OkError(
      'INVALID_INPUT',
      `"${url}" names the server by IP address (${bare}); 9p+quic needs the host name written in the server's certificate, ` +
        'because the QUIC library checks names, not addresses. Use that name (for a server on this machine, localhost), ' +
        'or add it to /etc/hosts',
    );
  if (!u.port)
    throw new OkError(
      'INVALID_INPUT',
      `"${url}" has no port; JetStream has no default port (its examples use 4433): ${USAGE}`,
    );
  const port = Number(u.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new OkError('INVALID_INPUT', `"${url}": port ${u.port} is not 1-65535`);
  let aname: string;
  try {
    aname = decodeURIComponent(u.pathname);
  } catch {
    throw new OkError('INVALID_INPUT', `"${url}": the path is not valid percent-encoding`);
  }
  if (aname === '/') aname = '';
  if (aname.includes('\0')) throw new OkError('INVALID_INPUT', `"${url}": the attach name holds a NUL byte`);
  return { host, port, aname };
}

function real(file: string, what: string, flag: string): string {
  try {
    const p = fs.realpathSync(file);
    if (!fs.statSync(p).isFile()) throw new OkError('INVALID_INPUT', `${what} ${file} (${flag}) is not a regular file`);
    fs.accessSync(p, fs.constants.R_OK);
    return p;
  } catch (e) {
    if (e instanceof OkError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new OkError('NOT_FOUND', `${what} ${file} (${flag}) does not exist: give the path of a PEM file`);
    if (code === 'EACCES')
      throw new OkError('INVALID_INPUT', `${what} ${file} (${flag}) cannot be read by this user: fix its permissions`);
    throw new OkError('INVALID_INPUT', `${what} ${file} (${flag}) cannot be used: ${(e as Error).message}`);
  }
}

/**
 * Resolves and checks `--ca`, `--cert`, `--key`. The key must be readable by its owner only (as ssh demands):
 * a key others can read is refused, with the chmod that fixes it.
 */
export function resolveQuicFiles(opts: { ca?: string; cert?: string; key?: string }): QuicTlsFiles {
  if (!opts.ca)
    throw new OkError(
      'INVALID_INPUT',
      "9p+quic needs --ca FILE: the one CA certificate (PEM) that signed the server's certificate",
    );
  if (opts.cert && !opts.key)
    throw new OkError(
      'INVALID_INPUT',
      '--cert was given without --key: give the client key too (--key FILE), or neither',
    );
  if (opts.key && !opts.cert)
    throw new OkError(
      'INVALID_INPUT',
      '--key was given without --cert: give the client certificate too (--cert FILE), or neither',
    );
  const out: QuicTlsFiles = { ca: real(opts.ca, 'CA file', '--ca') };
  if (opts.cert && opts.key) {
    out.cert = real(opts.cert, 'client certificate', '--cert');
    out.key = real(opts.key, 'client key', '--key');
    checkKeyMode(out.key, fs.statSync(out.key));
  }
  return out;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Reads one stored file again (at start, by the supervisor, before each QUIC connection): the path was a
 * realpath when the share was added, so a path that now resolves elsewhere (a component swapped for a
 * symbolic link) or is no longer a regular file is refused, not followed; the file is opened with
 * O_NOFOLLOW and checked on the open descriptor, so it cannot be swapped between the check and the read.
 * A key must still be its owner's alone.
 */
function readText(file: string, what: string, flag: string, isKey = false): string {
  const changed = (how: string): never => {
    throw new OkError(
      'INVALID_INPUT',
      `${what} ${file} (${flag}) ${how} since the share was added; check it, then remove the share and add it again`,
    );
  };
  let fd: number;
  try {
    if (fs.realpathSync(file) !== file) changed('now resolves to another file (a symbolic link was put in its path)');
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (e) {
    if (e instanceof OkError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') changed('was replaced by a symbolic link');
    if (code === 'ENOENT') changed('no longer exists');
    throw new OkError('INVALID_INPUT', `${what} ${file} (${flag}) cannot be read: ${(e as Error).message}`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) changed('is no longer a regular file');
    if (isKey) checkKeyMode(file, st);
    return fs.readFileSync(fd, 'utf8');
  } catch (e) {
    if (e instanceof OkError) throw e;
    throw new OkError('INVALID_INPUT', `${what} ${file} (${flag}) cannot be read: ${(e as Error).message}`);
  } finally {
    fs.closeSync(fd);
  }
}

/** A private key must be its owner's alone, as ssh demands: readable by nobody else, owned by this user (or root). */
function checkKeyMode(file: string, st: fs.Stats): void {
  const mode = st.mode & 0o777;
  if (mode & 0o077)
    throw new OkError(
      'INVALID_INPUT',
      `client key ${file} (--key) can be read or written by other users (mode ${mode.toString(8).padStart(3, '0')}): run chmod 600 ${file}`,
    );
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid && st.uid !== 0)
    throw new OkError(
      'INVALID_INPUT',
      `client key ${file} (--key) belongs to another user (uid ${st.uid}): use a key file of your own, with mode 600`,
    );
}

/**
 * Reads the files (each connection reads them afresh, so a renewed certificate is picked up) and checks that
 * they hold what they should: exactly one CA certificate, a certificate and the key that matches it. Used
 * when a share is added (the files must work then) and by the supervisor before each connection (a file
 * missing or changed since makes the share unreachable, with this message; it never stops the boot).
 */
export function readQuicTls(files: QuicTlsFiles): QuicTlsMaterial {
  const ca = readText(files.ca, 'CA file', '--ca');
  const cas = ca.match(PEM_CERT) ?? [];
  if (cas.length !== 1)
    throw new OkError(
      'INVALID_INPUT',
      cas.length === 0
        ? `CA file ${files.ca} (--ca) holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`
        : `CA file ${files.ca} (--ca) holds ${cas.length} certificates; JetStream's client trusts exactly one CA: give a file with only that one`,
    );
  try {
    new X509Certificate(cas[0]!);
  } catch (e) {
    throw new OkError(
      'INVALID_INPUT',
      `CA file ${files.ca} (--ca) is not a valid certificate: ${(e as Error).message}`,
    );
  }
  if (!files.cert || !files.key) return { ca: cas[0]! };
  const cert = readText(files.cert, 'client certificate', '--cert');
  const key = readText(files.key, 'client key', '--key', true);
  const certs = cert.match(PEM_CERT) ?? [];
  if (certs.length === 0)
    throw new OkError('INVALID_INPUT', `client certificate ${files.cert} (--cert) holds no PEM certificate`);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(certs[0]!);
  } catch (e) {
    throw new OkError(
      'INVALID_INPUT',
      `client certificate ${files.cert} (--cert) is not a valid certificate: ${(e as Error).message}`,
    );
  }
  let matches: boolean;
  try {
    matches = leaf.checkPrivateKey(createPrivateKey(key));
  } catch (e) {
    throw new OkError(
      'INVALID_INPUT',
      `client key ${files.key} (--key) cannot be read as a PEM private key (${(e as Error).message}); an encrypted key is not supported: ` +
        'give an unencrypted key file with mode 600',
    );
  }
  if (!matches)
    throw new OkError(
      'INVALID_INPUT',
      `client key ${files.key} (--key) is not the key of certificate ${files.cert} (--cert)`,
    );
  return { ca: cas[0]!, cert, key };
}
