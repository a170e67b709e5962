/**
 * The remote-share relay against a real 9P2000.L server (diod, on 127.0.0.1): the relay client runs as
 * QEMU's guestfwd runs it (once per connection, the connection on its stdio), the supervisor's relay
 * connects over TCP, and a 9P Tversion goes through byte for byte. Also: URLs, and an unreachable server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Relay, TcpTransport, formatRemoteUrl, parseRemoteUrl, remoteMountParam } from '@core/remote';
import { relayClientArgv } from '@core/engine';
import { tmpDir } from '../helpers/tmp';
import { freePort, startDiod } from '../helpers/diod';
import { NineP, T, attachFields, tmessage } from './ninep';

const t = tmpDir('oklinux-relay-');
let diod: { port: number; stop(): Promise<void> };

beforeAll(async () => {
  fs.mkdirSync(path.join(t.dir, 'export'));
  diod = await startDiod(path.join(t.dir, 'export'));
});
afterAll(async () => {
  await diod?.stop();
  t.cleanup();
});

/** A 9P Tversion asking for 9P2000.L at msize 65536. */
function tversion(): Buffer {
  const v = Buffer.from('9P2000.L');
  const b = Buffer.alloc(4 + 1 + 2 + 4 + 2 + v.length);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt8(100, 4);
  b.writeUInt16LE(0xffff, 5);
  b.writeUInt32LE(65536, 7);
  b.writeUInt16LE(v.length, 11);
  v.copy(b, 13);
  return b;
}

/** Plays QEMU's guestfwd: a TCP listener that runs the relay client per connection on its stdio. */
async function guestfwd(socket: string, tag: string): Promise<{ port: number; close(): void }> {
  const [cmd, ...args] = relayClientArgv(path.resolve('resources'));
  const kids: ChildProcess[] = [];
  const server = net.createServer({ pauseOnConnect: true }, (conn) => {
    kids.push(spawn(cmd!, [...args, socket, tag], { stdio: [conn, conn, conn] }));
    conn.destroy(); // the child holds its own copy of the descriptor, as QEMU's child does
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      server.close();
      for (const k of kids) k.kill();
    },
  };
}

async function exchange(port: number, frame: Buffer): Promise<Buffer> {
  const c = net.connect(port, '127.0.0.1');
  c.write(frame);
  const chunks: Buffer[] = [];
  return new Promise((resolve) => {
    const timer = setTimeout(() => c.destroy(), 10_000);
    c.on('data', (d) => {
      chunks.push(d);
      const all = Buffer.concat(chunks);
      if (all.length >= 4 && all.length >= all.readUInt32LE(0)) {
        clearTimeout(timer);
        c.destroy();
        resolve(all);
      }
    });
    c.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

describe('remote share URLs', () => {
  it('9p://HOST[:PORT]/ANAME: port 564 by default, the aname is the path with its "/"', () => {
    expect(parseRemoteUrl('9p://127.0.0.1/srv/data')).toEqual({
      scheme: '9p',
      host: '127.0.0.1',
      port: 564,
      aname: '/srv/data',
    });
    expect(parseRemoteUrl('9p://Files.example:5640/')).toEqual({
      scheme: '9p',
      host: 'files.example',
      port: 5640,
      aname: '',
    });
    expect(formatRemoteUrl(parseRemoteUrl('9p://[::1]/x/'))).toBe('9p://[::1]:564/x');
    for (const [url, msg] of [
      ['9p://127.0.0.1:0/x', /invalid port "0"/],
      ['9p://127.0.0.1:99999/x', /invalid port/],
      ['9p:///x', /has no host/],
      ['9p://a_b/x', /invalid host/],
      ['9p://h/a,b', /characters other than/],
      ['9p://h/a:b', /invalid port|characters other than/],
      ['9p://h/a%20b', /characters other than/],
      ['9p://h/../etc', /"\.\."/],
      ['9p://h/x?y', /query or fragment/],
      ['http://h/x', /scheme "http:"/],
    ] as const) {
      expect(() => parseRemoteUrl(url), url).toThrow(msg);
    }
  });

  it('the guest parameter: trans=tcp at the relay address, version 9p2000.L, the aname, msize 131072 (the server caps it), ro', () => {
    expect(
      remoteMountParam({ tag: 'data', guestPath: '/mnt/data', url: '9p://127.0.0.1:5640/srv/data', readOnly: true }, 1),
    ).toBe(
      'oklinux.remote=data:/mnt/data:10.0.2.100:trans=tcp,port=565,version=9p2000.L,aname=/srv/data,msize=131072,ro',
    );
  });
});

describe('relay', () => {
  it('carries a guest connection to diod byte for byte, through the relay client QEMU runs', async () => {
    const socket = path.join(t.dir, 'relay.sock');
    const problems: string[] = [];
    const relay = await Relay.listen(socket, [{ tag: 'data', transport: new TcpTransport('127.0.0.1', diod.port) }], {
      unreachable: (tag, why) => problems.push(`${tag}: ${why}`),
    });
    expect(fs.statSync(socket).mode & 0o777).toBe(0o600);
    const fwd = await guestfwd(socket, 'data');
    try {
      const reply = await exchange(fwd.port, tversion());
      expect(reply.length).toBeGreaterThan(7);
      expect(reply.readUInt8(4)).toBe(101); // Rversion
      expect(reply.subarray(13).toString()).toBe('9P2000.L');
      expect(reply.readUInt32LE(7)).toBeLessThanOrEqual(65536);
      expect(problems).toEqual([]);
    } finally {
      fwd.close();
      await relay.close();
    }
  });

  it('closes the guest connection and names the cause when the server is down; unknown tags get nothing', async () => {
    const socket = path.join(t.dir, 'relay2.sock');
    const problems: string[] = [];
    const down = await freePort();
    const relay = await Relay.listen(socket, [{ tag: 'gone', transport: new TcpTransport('127.0.0.1', down) }], {
      unreachable: (tag, why) => problems.push(`${tag}: ${why}`),
    });
    const fwd = await guestfwd(socket, 'gone');
    const other = await guestfwd(socket, 'nosuch');
    try {
      expect((await exchange(fwd.port, tversion())).length).toBe(0);
      expect(problems).toEqual([`gone: cannot reach 127.0.0.1:${down}: connection refused (is the server running?)`]);
      expect((await exchange(other.port, tversion())).length).toBe(0);
      expect(problems).toHaveLength(1);
    } finally {
      fwd.close();
      other.close();
      await relay.close();
    }
  });

  it("a guest reaches only its share's export: a Tattach naming another export of the same server is refused", async () => {
    // diod serves two folders; the user shared only "pub". A hostile guest speaks 9P itself and attaches
    // to "secret" (the server would allow it: same host, same credentials).
    const pub = path.join(t.dir, 'pub');
    const secret = path.join(t.dir, 'secret');
    fs.mkdirSync(pub);
    fs.mkdirSync(secret);
    fs.writeFileSync(path.join(secret, 'private.txt'), 'not shared\n');
    const two = await startDiod([pub, secret]);
    const url = formatRemoteUrl(parseRemoteUrl(`9p://127.0.0.1:${two.port}${pub}`));
    const socket = path.join(t.dir, 'relay3.sock');
    const refused: string[] = [];
    const relay = await Relay.listen(
      socket,
      [{ tag: 'pub', transport: new TcpTransport('127.0.0.1', two.port), aname: parseRemoteUrl(url).aname }],
      { refused: (tag, why) => refused.push(`${tag}: ${why}`) },
    );
    const fwd = await guestfwd(socket, 'pub');
    const session = async (): Promise<NineP> => {
      const c = net.connect(fwd.port, '127.0.0.1');
      await new Promise((r) => c.once('connect', r));
      const p = new NineP(c);
      await p.version(65536);
      return p;
    };
    try {
      // its own export, as the guest's kernel mounts it: allowed
      const ok = await session();
      expect(await ok.attach(1, pub, process.getuid!())).toBe(0x80);
      ok.io.destroy();
      // another export: the connection is closed before the server sees the Tattach
      const bad = await session();
      await expect(bad.attach(1, secret, process.getuid!())).rejects.toThrow(/9p stream closed/);
      expect(refused).toEqual([`pub: the guest asked for the export "${secret}" instead of "${pub}"`]);
      // a Tattach split across writes, with the wrong aname, is refused too
      const split = await session();
      const frame = tmessage(T.attach, 9, attachFields(1, secret, 0));
      const closed = new Promise((r) => split.io.once('close', r));
      for (let i = 0; i < frame.length; i += 5) {
        split.io.write(frame.subarray(i, i + 5));
        await new Promise((r) => setTimeout(r, 5));
      }
      await closed;
      expect(refused).toHaveLength(2);
      // a guest's aname reaches the host's log quoted: no line of its own, no terminal escapes
      const forged = await session();
      await expect(forged.attach(1, '/x\nremote share "pub": mounted\u001b[2J', 0)).rejects.toThrow(/closed/);
      expect(refused[2]).toBe(
        `pub: the guest asked for the export "/x\\nremote share \\"pub\\": mounted\\u001b[2J" instead of "${pub}"`,
      );
      expect(two.log()).not.toContain('secret');
    } finally {
      fwd.close();
      await relay.close();
      await two.stop();
    }
  });
});
