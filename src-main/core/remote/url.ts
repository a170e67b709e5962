/**
 * Remote 9p share URLs: `9p://HOST[:PORT]/ANAME`.
 *
 * - HOST is an IPv4 address, `[IPv6]`, or a host name (letters, digits, "-", "."); it is reached from the
 *   host (the VM's supervisor relays each guest connection), so `127.0.0.1` is this computer.
 * - PORT defaults to 564, 9P's registered port.
 * - ANAME is the URL's path with its leading "/" kept, which is what path-exporting servers such as diod
 *   expect: `9p://127.0.0.1:5640/srv/data` attaches to `/srv/data`. `9p://host/` attaches with no aname.
 *   It may only hold letters, digits and `/ . _ - + ~ @`: it goes into the guest's mount options, where ","
 *   separates options and ":" our kernel parameter's fields, and into the kernel command line (no spaces).
 *
 * `9p+quic://HOST:PORT/ANAME` (JetStream, item 5 of issue #12) is parsed by quic-url.ts (HOST a name, PORT
 * required); its ANAME obeys the same rules, since the guest mounts it the same way. Its transport
 * (quic.ts) plugs in through `RemoteTransport` (transport.ts) and registry.ts.
 */
import { OkError } from '@contract/errors';
import { QUIC_SCHEME, parseQuicUrl } from './quic-url';

export const DEFAULT_9P_PORT = 564;
export const MAX_ANAME_BYTES = 255;
const ANAME_RE = /^\/[A-Za-z0-9/._+~@-]*$/;
const HOSTNAME_RE =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export interface RemoteUrl {
  scheme: '9p' | '9p+quic';
  /** Host name or address, IPv6 without brackets. */
  host: string;
  port: number;
  /** The attach name: "" (none) or a path starting with "/". */
  aname: string;
}

const FORM = '9p://HOST[:PORT]/ANAME, e.g. 9p://127.0.0.1:5640/srv/data';

function bad(url: string, why: string): never {
  throw new OkError('INVALID_INPUT', `the remote share "${url}" ${why}; write it as ${FORM}`);
}

export { isRemoteUrl } from '@contract/schemas';

/** Whether a remote share URL is a JetStream one (`9p+quic://`), whose share needs TLS files. */
export function isQuicUrl(url: string): boolean {
  return url.toLowerCase().startsWith(`${QUIC_SCHEME}//`);
}

/** Checks an attach name: it goes into the guest's mount options and the kernel command line. */
function checkAname(url: string, aname: string, fail: (why: string) => never): void {
  if (!aname) return;
  if (Buffer.byteLength(aname) > MAX_ANAME_BYTES) fail(`has an aname longer than ${MAX_ANAME_BYTES} bytes`);
  if (!ANAME_RE.test(aname))
    fail(`has the aname "${aname}" with characters other than letters, digits and / . _ - + ~ @ (no "%" escapes)`);
  if (aname.split('/').some((c) => c === '..')) fail(`has ".." in its aname "${aname}"`);
}

/** Parses a remote share URL (`9p://` here, `9p+quic://` by quic-url.ts), naming what is wrong and the form. */
export function parseRemoteUrl(url: string): RemoteUrl {
  if (isQuicUrl(url)) {
    const q = parseQuicUrl(url);
    const aname = q.aname.replace(/\/+$/, '');
    checkAname(url, aname, (why) => {
      throw new OkError(
        'INVALID_INPUT',
        `the remote share "${url}" ${why}; write it as 9p+quic://HOST:PORT/ANAME, e.g. 9p+quic://files.example:4433/srv/share`,
      );
    });
    return { scheme: '9p+quic', host: q.host, port: q.port, aname };
  }
  const m = /^([A-Za-z0-9][A-Za-z0-9+.-]*):\/\/(\[[^\]]*\]|[^/:?#]*)(?::([^/?#]*))?(\/[^?#]*)?([?#].*)?$/.exec(url);
  if (!m) bad(url, 'is not a URL');
  const [, scheme, rawHost, rawPort, rawPath, rest] = m;
  if (scheme!.toLowerCase() !== '9p') {
    throw new OkError(
      'UNSUPPORTED',
      `the remote share "${url}" uses the scheme "${scheme}:", which okLinux cannot mount; use ${FORM}, or 9p+quic://HOST:PORT/ANAME --ca FILE for JetStream`,
    );
  }
  if (rest) bad(url, 'has a query or fragment, which 9p has no use for');
  let host = rawHost!;
  if (host.startsWith('[')) {
    host = host.slice(1, -1);
    if (!/^[0-9A-Fa-f:.]+$/.test(host) || !host.includes(':')) bad(url, `has an invalid IPv6 address [${host}]`);
  } else if (!host) {
    bad(url, 'has no host');
  } else if (!IPV4_RE.test(host) && (/^[\d.]+$/.test(host) || !HOSTNAME_RE.test(host))) {
    bad(url, `has an invalid host "${host}"`);
  }
  let port = DEFAULT_9P_PORT;
  if (rawPort !== undefined) {
    if (!/^\d{1,5}$/.test(rawPort) || Number(rawPort) < 1 || Number(rawPort) > 65535)
      bad(url, `has an invalid port "${rawPort}" (1-65535)`);
    port = Number(rawPort);
  }
  const aname = !rawPath || rawPath === '/' ? '' : rawPath.replace(/\/+$/, '');
  checkAname(url, aname, (why) => bad(url, why));
  return { scheme: '9p', host: host.toLowerCase(), port, aname };
}

/** The canonical form of a URL (what is stored and shown): default port written out, no trailing "/". */
export function formatRemoteUrl(u: RemoteUrl): string {
  const host = u.host.includes(':') ? `[${u.host}]` : u.host;
  return `${u.scheme}://${host}:${u.port}${u.aname || '/'}`;
}

/** A tag for a remote share: the aname's last part, else the host. */
export function remoteTagBase(u: RemoteUrl): string {
  return u.aname.split('/').filter(Boolean).pop() ?? u.host;
}
