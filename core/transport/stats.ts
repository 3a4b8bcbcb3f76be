// The transport's counters, for `/metrics` (Prometheus) and tests. Plain numbers, and
// plain records for the counters with a reason label. Counters only grow; the two
// gauges (`connectionsOpen`, `pooled`) go up and down.

export interface TransportStats {
  datagramsSent: number;
  datagramsReceived: number;
  /** Unidirectional streams, one message each. */
  streamsSent: number;
  streamsReceived: number;
  /** Message bytes (datagram payloads and stream frames), both ways. */
  bytesSent: number;
  bytesReceived: number;
  /** Messages handed to send, and their encoded bytes, by message type (Ping, Ack, …). */
  sentByType: Record<string, number>;
  bytesSentByType: Record<string, number>;
  /** Messages that could not be sent: no connection could be made, or sending failed. */
  sendErrors: number;
  /** Messages dropped because too many were waiting for one dial. */
  sendQueueDropped: number;
  dials: number;
  /** Connections authenticated with a resumption ticket (tickets.ts), either side. */
  authResumed: number;
  dialFailures: number;
  /** Info requests made to learn a node id (fetchInfo), and those that failed. */
  infoFetches: number;
  infoFetchFailures: number;
  /** Incoming QUIC connections past the TLS handshake. */
  accepted: number;
  /** Incoming TLS handshakes that failed (the accept loop rejected and went on). */
  handshakeFailures: number;
  /** Gauge: open QUIC connections, authenticated or not. */
  connectionsOpen: number;
  /** Gauge: authenticated connections held by the pool. */
  pooled: number;
  /** Pool: closed for the cap (least recently used), for idleness, replaced by a newer one. */
  evictions: number;
  idleClosed: number;
  replaced: number;
  /** Messages dropped by the codec, in total and by DecodeRefusal. */
  decodeErrors: number;
  decodeErrorsByReason: Record<string, number>;
  /** Messages whose sender is not the authenticated peer. */
  spoofed: number;
  /** Datagrams and streams from connections not (yet) authenticated. */
  unauthenticatedDropped: number;
  /** Connections refused in authentication, by reason (ours and the peer's). */
  authRefused: Record<string, number>;
  /** Sources refused by transport.allow/deny, and by the handshake rate limit (QUIC and TCP). */
  aclRefused: number;
  rateLimited: number;
  joinsGranted: number;
  joinsRefused: number;
  joinRefusedByReason: Record<string, number>;
  /** Node info answered on TCP. */
  infoServed: number;
  /** The message handler threw (a bug in the caller: counted and logged, never fatal). */
  handlerErrors: number;
  /** Something failed that should not have (an error on an open connection, a task): logged. */
  unexpectedErrors: number;
}

export const newTransportStats = (): TransportStats => ({
  datagramsSent: 0,
  datagramsReceived: 0,
  streamsSent: 0,
  streamsReceived: 0,
  bytesSent: 0,
  bytesReceived: 0,
  sentByType: {},
  bytesSentByType: {},
  sendErrors: 0,
  sendQueueDropped: 0,
  dials: 0,
  authResumed: 0,
  dialFailures: 0,
  infoFetches: 0,
  infoFetchFailures: 0,
  accepted: 0,
  handshakeFailures: 0,
  connectionsOpen: 0,
  pooled: 0,
  evictions: 0,
  idleClosed: 0,
  replaced: 0,
  decodeErrors: 0,
  decodeErrorsByReason: {},
  spoofed: 0,
  unauthenticatedDropped: 0,
  authRefused: {},
  aclRefused: 0,
  rateLimited: 0,
  joinsGranted: 0,
  joinsRefused: 0,
  joinRefusedByReason: {},
  infoServed: 0,
  handlerErrors: 0,
  unexpectedErrors: 0,
});

/** Adds one to `record[key]`. */
export function countBy(record: Record<string, number>, key: string): void {
  record[key] = (record[key] ?? 0) + 1;
}
