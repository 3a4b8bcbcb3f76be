// The membership protocol's messages: plain objects, one discriminated union. Each
// has a numeric wire `type` and the protocol version `v`. The codec (MessagePack
// plus validation) belongs to the transport; this file only says what is sent.

import type { MemberEntry, MemberMeta } from "./member.ts";
import type { Coordinate } from "./vivaldi.ts";

// 2: the compact wire form (core/transport/wire_form.ts). 3: metas as bytes of their own.
export const PROTOCOL_VERSION = 3;

/** Wire codes. Only append: a released code keeps its meaning for ever. */
export const MessageType = {
  Ping: 0,
  PingReq: 1,
  Ack: 2,
  Nack: 3,
  Suspect: 4,
  Alive: 5,
  /** Also a graceful leave, when `from` is the member itself (as memberlist). */
  Dead: 6,
  PushPullRequest: 7,
  PushPullResponse: 8,
  Gossip: 9,
  /** A service's message (jobs, …): the transport carries it, the service validates its body. */
  App: 10,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

export interface NodeRef {
  id: string;
  address: string;
}

interface Base {
  v: typeof PROTOCOL_VERSION;
}

// ── rumors: state changes, gossiped ────────────────────────────────────────

export interface Alive extends Base {
  type: typeof MessageType.Alive;
  id: string;
  address: string;
  incarnation: number;
  meta: MemberMeta;
}

export interface Suspect extends Base {
  type: typeof MessageType.Suspect;
  id: string;
  incarnation: number;
  /** The accuser: confirmations count distinct accusers. */
  from: string;
}

export interface Dead extends Base {
  type: typeof MessageType.Dead;
  id: string;
  incarnation: number;
  /** `from === id` means the member left on purpose. */
  from: string;
}

/** What rides piggyback on other messages and in gossip packets. */
export type Rumor = Alive | Suspect | Dead;

// ── failure detection ──────────────────────────────────────────────────────

interface Piggyback {
  gossip?: Rumor[];
}

export interface Ping extends Base, Piggyback {
  type: typeof MessageType.Ping;
  seq: number;
  /** The id the sender expects at this address: anyone else ignores the ping. */
  target: string;
  from: NodeRef;
  /** The fallback ping over a reliable stream (memberlist's TCP ping). */
  reliable?: true;
  /** Answer with your network coordinate (ours is missing or stale). */
  wantCoord?: true;
}

export interface PingReq extends Base, Piggyback {
  type: typeof MessageType.PingReq;
  /** The origin's sequence number, echoed in the relayed ack or the nack. */
  seq: number;
  target: NodeRef;
  from: NodeRef;
  /**
   * Send a nack if the target has not answered after this long (ms). The origin sets
   * it below its own remaining wait, so the nack can arrive in time (Lifeguard §4.3,
   * footnote 5); memberlist uses its full probe timeout and the nack comes too late.
   */
  nackAfterMs?: number;
}

export interface Ack extends Base, Piggyback {
  type: typeof MessageType.Ack;
  seq: number;
  from: string;
  /** Set by a relay forwarding the target's ack: no round-trip time to learn from it. */
  relayed?: true;
  /** The sender's network coordinate (direct acks to a ping that asked for it). */
  coord?: Coordinate;
  /** Answering a reliable ping: goes back on the same stream. */
  reliable?: true;
}

export interface Nack extends Base, Piggyback {
  type: typeof MessageType.Nack;
  seq: number;
  from: string;
}

// ── anti-entropy ───────────────────────────────────────────────────────────

export interface PushPullRequest extends Base {
  type: typeof MessageType.PushPullRequest;
  seq: number;
  from: NodeRef;
  /** A join (or a reconnect attempt), rather than the periodic exchange. */
  join: boolean;
  members: MemberEntry[];
}

export interface PushPullResponse extends Base {
  type: typeof MessageType.PushPullResponse;
  seq: number;
  from: NodeRef;
  members: MemberEntry[];
}

export interface Gossip extends Base {
  type: typeof MessageType.Gossip;
  from: string;
  gossip: Rumor[];
}

// ── services ───────────────────────────────────────────────────────────────

/**
 * A message of a service that rides the mesh (the job service): membership neither
 * sends nor reads these. The transport checks the envelope; `body` is the service's own,
 * validated by it against its schema for `op`.
 */
export interface App extends Base {
  type: typeof MessageType.App;
  /** The service: a short name such as "job". */
  svc: string;
  op: string;
  /** Request id: set on calls and echoed in the reply. */
  rid?: number;
  /** Bulk data (job output): rides the bulk lane, never ahead of a reliable ping. */
  bulk?: true;
  body: unknown;
}

export type Message =
  | App
  | Ping
  | PingReq
  | Ack
  | Nack
  | Suspect
  | Alive
  | Dead
  | PushPullRequest
  | PushPullResponse
  | Gossip;

/** How the transport carries a message: QUIC datagrams are lossy, streams are not. */
export type Channel = "datagram" | "stream";

export function channelOf(msg: Message): Channel {
  switch (msg.type) {
    case MessageType.App:
    case MessageType.PushPullRequest:
    case MessageType.PushPullResponse:
      return "stream";
    case MessageType.Ping:
    case MessageType.Ack:
      return msg.reliable ? "stream" : "datagram";
    default:
      return "datagram";
  }
}

/** Size of one datagram's payload: what a gossip packet and its piggyback must fit. */
export const DATAGRAM_BUDGET_BYTES = 1_200;

/**
 * Room left for piggybacked rumors on a ping, ack or nack: the budget less a generous
 * allowance for the carrying message itself (ids, addresses, a coordinate).
 */
export const PIGGYBACK_BUDGET_BYTES = DATAGRAM_BUDGET_BYTES - 400;

/**
 * Size estimate for budgets and traffic counts, until the codec gives exact ones: the
 * length of the JSON text (string escapes aside), computed without building it. Frozen
 * objects — metadata, queued rumors — are measured once and remembered.
 */
export function estimateBytes(value: unknown): number {
  switch (typeof value) {
    case "string":
      return value.length + 2;
    case "number":
      return Number.isInteger(value) && value >= 0 && value < 1e15
        ? (value < 10 ? 1 : Math.floor(Math.log10(value)) + 1)
        : String(value).length;
    case "boolean":
      return value ? 4 : 5;
    case "object":
      return value === null ? 4 : objectBytes(value);
    default:
      return 0;
  }
}

const frozenSizes = new WeakMap<object, number>();

function objectBytes(value: object): number {
  const frozen = Object.isFrozen(value);
  if (frozen) {
    const known = frozenSizes.get(value);
    if (known !== undefined) return known;
  }
  let size = 2;
  let items = 0;
  if (Array.isArray(value)) {
    for (const v of value) size += estimateBytes(v ?? null) + (items++ > 0 ? 1 : 0);
  } else {
    for (const k in value) {
      const v = (value as Record<string, unknown>)[k];
      if (v === undefined || typeof v === "function") continue;
      size += k.length + 3 + estimateBytes(v) + (items++ > 0 ? 1 : 0);
    }
  }
  if (frozen) frozenSizes.set(value, size);
  return size;
}

export const aliveMsg = (
  m: { id: string; address: string; incarnation: number; meta: MemberMeta },
): Alive => ({
  type: MessageType.Alive,
  v: PROTOCOL_VERSION,
  id: m.id,
  address: m.address,
  incarnation: m.incarnation,
  meta: m.meta,
});

export const suspectMsg = (id: string, incarnation: number, from: string): Suspect => ({
  type: MessageType.Suspect,
  v: PROTOCOL_VERSION,
  id,
  incarnation,
  from,
});

export const deadMsg = (id: string, incarnation: number, from: string): Dead => ({
  type: MessageType.Dead,
  v: PROTOCOL_VERSION,
  id,
  incarnation,
  from,
});
