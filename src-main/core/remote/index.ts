/**
 * Remote 9p shares (`9p://HOST[:PORT]/ANAME`, and JetStream's `9p+quic://HOST:PORT/ANAME`): the URLs (url.ts,
 * quic-url.ts), the transports the supervisor's relay uses to reach a server (transport.ts, tcp.ts; QUIC in
 * quic*.ts, not exported here: registry.ts imports it only when a share needs it), the relay (relay.ts) and
 * the guest's side (guest.ts).
 */
export * from './url';
export * from './transport';
export * from './registry';
export * from './guest';
export { Relay, type RelayEvents, type RelayShare } from './relay';
export { TcpTransport, CONNECT_TIMEOUT_MS } from './tcp';
