/**
 * A JetStream-shaped QUIC test server, built with the same library as the client (@matrixai/quic): ALPN
 * "jetstream" (or another, to test a mismatch), optional mTLS, and each bidirectional stream forwarded byte for
 * byte to a fresh TCP connection to a real 9P2000.L server (diod). It speaks no 9P itself.
 */
import { createHmac, timingSafeEqual, webcrypto } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { Duplex } from 'node:stream';
import type { ReadableStream as WebReadable, WritableStream as WebWritable } from 'node:stream/web';
import { QUICServer, events, type QUICConnection, type QUICStream } from '@matrixai/quic';
import Logger, { LogLevel } from '@matrixai/logger';

export interface TestServerOptions {
  cert: string;
  key: string;
  /** When set, the server requires a client certificate signed by this CA (mTLS). */
  clientCa?: string;
  alpn?: string;
  /** Where each stream goes: diod on 127.0.0.1. */
  forwardPort: number;
}

export interface TestServer {
  port: number;
  /** Streams accepted so far, and connections. */
  streams: number;
  connections: number;
  /** Ends every open connection (the client must reconnect). */
  dropConnections(): Promise<void>;
  stop(): Promise<void>;
}

const hmac = (k: ArrayBuffer, d: ArrayBuffer) => createHmac('sha256', Buffer.from(k)).update(Buffer.from(d)).digest();

export async function startJetstreamTestServer(o: TestServerOptions): Promise<TestServer> {
  const key = webcrypto.getRandomValues(new Uint8Array(32));
  const server = new QUICServer({
    crypto: {
      key: key.buffer,
      ops: {
        sign: async (k, d) => new Uint8Array(hmac(k, d)).buffer,
        verify: async (k, d, s) => {
          const m = hmac(k, d);
          return m.length === s.byteLength && timingSafeEqual(m, Buffer.from(s));
        },
      },
    },
    config: {
      cert: fs.readFileSync(o.cert, 'utf8'),
      key: fs.readFileSync(o.key, 'utf8'),
      applicationProtos: [o.alpn ?? 'jetstream'],
      verifyPeer: o.clientCa !== undefined,
      ...(o.clientCa ? { ca: fs.readFileSync(o.clientCa, 'utf8') } : {}),
      maxIdleTimeout: 30_000,
      readableChunkSize: 64 * 1024 + 24,
    },
    logger: new Logger('test-jetstream', LogLevel.SILENT),
  });
  const conns = new Set<QUICConnection>();
  const state: TestServer = {
    port: 0,
    streams: 0,
    connections: 0,
    dropConnections: async () => {
      await Promise.all(
        [...conns].map((c) => c.stop({ isApp: true, errorCode: 0, force: true }).catch(() => undefined)),
      );
    },
    stop: async () => {
      await server.stop({ force: true });
    },
  };
  server.addEventListener(events.EventQUICServerConnection.name, (evt) => {
    const conn = (evt as events.EventQUICServerConnection).detail;
    state.connections++;
    conns.add(conn);
    void conn.closedP.then(() => conns.delete(conn));
    conn.addEventListener(events.EventQUICConnectionStream.name, (e) => {
      const stream: QUICStream = (e as events.EventQUICConnectionStream).detail;
      state.streams++;
      const quic = Duplex.fromWeb({
        readable: stream.readable as WebReadable<Uint8Array>,
        writable: stream.writable as WebWritable<Uint8Array>,
      });
      const tcp = net.connect(o.forwardPort, '127.0.0.1');
      quic.pipe(tcp);
      tcp.pipe(quic);
      const end = () => {
        quic.destroy();
        tcp.destroy();
      };
      quic.on('error', end);
      tcp.on('error', end);
      tcp.on('close', end);
    });
  });
  await server.start({ host: '127.0.0.1', port: 0 });
  state.port = server.port;
  return state;
}
