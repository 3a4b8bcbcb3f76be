// The membership messages on the wire: MessagePack of their compact form (wire_form.ts), and every decoded message checked
// against a strict schema for its type and version before it reaches the protocol.
// Unknown fields, wrong types, ids that are not node ids, oversized lists or metadata:
// the message is dropped and the reason returned (the transport counts it). Nothing
// here throws for bad input.

import * as v from "valibot";
import { NODE_ID_PATTERN } from "../identity/names.ts";
import { type MemberMeta, MemberState, META_MAX_BYTES } from "../membership/member.ts";
import { MAX_MEMBERS } from "../membership/member_table.ts";
import { type Message, MessageType, PROTOCOL_VERSION } from "../membership/messages.ts";
import { MAX_RUMORS_PER_MESSAGE } from "../membership/swim.ts";
import { firstIssue, isRecord, packValue, unpackValue } from "./_msgpack.ts";
import { MAX_ADDRESS_LENGTH, parseAddress } from "./address.ts";
import { fromWire, toWire } from "./wire_form.ts";
import { markAccepted, wasAccepted } from "./_meta_wire.ts";

/** Why a message was dropped. Append only: these strings are metric labels. */
export const DecodeRefusal = {
  /** Not one MessagePack value (truncated, trailing bytes, limits, extension types). */
  Malformed: "malformed",
  /** A value, but not a map with a numeric `type`. */
  NotAMessage: "not-a-message",
  /** `v` is not PROTOCOL_VERSION. */
  WrongVersion: "wrong-version",
  /** `type` is no MessageType. */
  UnknownType: "unknown-type",
  /** The right type and version, but a field is missing, extra, or out of bounds. */
  Invalid: "invalid",
  /** Bigger than the channel allows (a stream frame over `maxMessageBytes`). */
  TooLarge: "too-large",
} as const;
export type DecodeRefusal = typeof DecodeRefusal[keyof typeof DecodeRefusal];

export type Decoded =
  | { ok: true; msg: Message }
  | { ok: false; reason: DecodeRefusal; detail: string };

/** Vivaldi uses 8; anything much wider is not a coordinate of ours. */
export const MAX_COORDINATE_DIMENSIONS = 64;
/** Nesting of metadata values; JSON of ≤ META_MAX_BYTES cannot usefully go deeper. */
const MAX_META_DEPTH = 16;
/** Nesting of a service body (a job spec with its task is a few levels deep). */
const MAX_BODY_DEPTH = 32;
/** Service and operation names are short words. */
const SERVICE_NAME = /^[a-z][a-z0-9-]{0,15}$/;
/** A relay's nack deadline beyond an hour is nonsense (membership caps its wait at 10 s). */
const MAX_NACK_AFTER_MS = 3_600_000;

// ── field schemas ───────────────────────────────────────────────────────────

const NodeId = v.pipe(v.string(), v.regex(NODE_ID_PATTERN, "must be a node id"));
const Address = v.pipe(
  v.string(),
  v.maxLength(MAX_ADDRESS_LENGTH),
  v.check((s) => parseAddress(s) !== undefined, "must be host:port"),
);
const Uint = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
const Finite = v.pipe(v.number(), v.finite());
const Version = v.literal(PROTOCOL_VERSION);
const NodeRef = v.strictObject({ id: NodeId, address: Address });

function isJson(x: unknown, depth: number): boolean {
  switch (typeof x) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(x);
    case "object":
      if (x === null) return true;
      if (depth >= MAX_META_DEPTH) return false;
      if (Array.isArray(x)) return x.every((e) => isJson(e, depth + 1));
      if (!isRecord(x) || Object.getPrototypeOf(x) !== Object.prototype) return false;
      for (const k in x) if (!isJson(x[k], depth + 1)) return false;
      return true;
    default:
      return false;
  }
}

/** MessagePack values a service body may hold: JSON values and byte strings. */
function isBodyValue(x: unknown, depth: number): boolean {
  if (x instanceof Uint8Array) return true;
  if (typeof x !== "object" || x === null) return isJson(x, depth);
  if (depth >= MAX_BODY_DEPTH) return false;
  if (Array.isArray(x)) return x.every((e) => isBodyValue(e, depth + 1));
  if (!isRecord(x) || Object.getPrototypeOf(x) !== Object.prototype) return false;
  for (const k in x) if (!isBodyValue(x[k], depth + 1)) return false;
  return true;
}

/** A JSON object whose JSON text is within META_MAX_BYTES (what membership itself allows). */
const Meta = v.custom<MemberMeta>(
  // A meta is checked once: the next messages carrying the same bytes share its object.
  (x) =>
    wasAccepted(x) ||
    (isRecord(x) && isJson(x, 0) && JSON.stringify(x).length <= META_MAX_BYTES && markAccepted(x)),
  `must be a JSON object of at most ${META_MAX_BYTES} bytes`,
);

const Coordinate = v.strictObject({
  vec: v.pipe(v.array(Finite), v.maxLength(MAX_COORDINATE_DIMENSIONS)),
  error: Finite,
  adjustment: Finite,
  height: Finite,
});

const MemberEntry = v.strictObject({
  id: NodeId,
  address: Address,
  incarnation: Uint,
  state: v.picklist(Object.values(MemberState)),
  meta: Meta,
  coord: v.optional(Coordinate),
  coordAge: v.optional(Uint),
});

// ── messages ────────────────────────────────────────────────────────────────

const Alive = v.strictObject({
  type: v.literal(MessageType.Alive),
  v: Version,
  id: NodeId,
  address: Address,
  incarnation: Uint,
  meta: Meta,
});
const Suspect = v.strictObject({
  type: v.literal(MessageType.Suspect),
  v: Version,
  id: NodeId,
  incarnation: Uint,
  from: NodeId,
});
const Dead = v.strictObject({
  type: v.literal(MessageType.Dead),
  v: Version,
  id: NodeId,
  incarnation: Uint,
  from: NodeId,
});

// The length is checked before the items: a long list is refused without parsing it.
const Rumors = v.pipe(
  v.array(v.unknown()),
  v.maxLength(MAX_RUMORS_PER_MESSAGE),
  v.array(v.variant("type", [Alive, Suspect, Dead])),
);
const Members = v.pipe(v.array(v.unknown()), v.maxLength(MAX_MEMBERS), v.array(MemberEntry));
const Flag = v.optional(v.literal(true));

const SCHEMAS = {
  [MessageType.Ping]: v.strictObject({
    type: v.literal(MessageType.Ping),
    v: Version,
    seq: Uint,
    target: NodeId,
    from: NodeRef,
    reliable: Flag,
    wantCoord: Flag,
    gossip: v.optional(Rumors),
  }),
  [MessageType.PingReq]: v.strictObject({
    type: v.literal(MessageType.PingReq),
    v: Version,
    seq: Uint,
    target: NodeRef,
    from: NodeRef,
    nackAfterMs: v.optional(v.pipe(Finite, v.minValue(0), v.maxValue(MAX_NACK_AFTER_MS))),
    gossip: v.optional(Rumors),
  }),
  [MessageType.Ack]: v.strictObject({
    type: v.literal(MessageType.Ack),
    v: Version,
    seq: Uint,
    from: NodeId,
    relayed: Flag,
    coord: v.optional(Coordinate),
    reliable: Flag,
    gossip: v.optional(Rumors),
  }),
  [MessageType.Nack]: v.strictObject({
    type: v.literal(MessageType.Nack),
    v: Version,
    seq: Uint,
    from: NodeId,
    gossip: v.optional(Rumors),
  }),
  [MessageType.Suspect]: Suspect,
  [MessageType.Alive]: Alive,
  [MessageType.Dead]: Dead,
  [MessageType.PushPullRequest]: v.strictObject({
    type: v.literal(MessageType.PushPullRequest),
    v: Version,
    seq: Uint,
    from: NodeRef,
    join: v.boolean(),
    members: Members,
  }),
  [MessageType.PushPullResponse]: v.strictObject({
    type: v.literal(MessageType.PushPullResponse),
    v: Version,
    seq: Uint,
    from: NodeRef,
    members: Members,
  }),
  [MessageType.App]: v.strictObject({
    type: v.literal(MessageType.App),
    v: Version,
    svc: v.pipe(v.string(), v.regex(SERVICE_NAME, "must be a service name")),
    op: v.pipe(v.string(), v.regex(SERVICE_NAME, "must be an operation name")),
    rid: v.optional(Uint),
    bulk: Flag,
    body: v.custom<unknown>(
      (x) => isBodyValue(x, 0),
      "must be JSON values and byte strings",
    ),
  }),
  [MessageType.Gossip]: v.strictObject({
    type: v.literal(MessageType.Gossip),
    v: Version,
    from: NodeId,
    gossip: Rumors,
  }),
} as const;

/** The schema of each message type, for tests that hold it against the types. */
export const MESSAGE_SCHEMAS: Readonly<Record<MessageType, v.GenericSchema>> = SCHEMAS;

const PARSE_CONFIG = { abortEarly: true } as const;

/** MessagePack of a message. Our own messages are trusted: no validation on the way out. */
export const encodeMessage = (msg: Message): Uint8Array => packValue(toWire(msg));

/** Decodes and validates one message from the network. Never throws. */
export function decodeMessage(bytes: Uint8Array): Decoded {
  const raw = unpackValue(bytes);
  if (!raw.ok) return { ok: false, reason: DecodeRefusal.Malformed, detail: raw.detail };
  const value = fromWire(raw.value);
  if (!isRecord(value) || typeof value.type !== "number") {
    return { ok: false, reason: DecodeRefusal.NotAMessage, detail: "not a map with a type" };
  }
  if (value.v !== PROTOCOL_VERSION) {
    return {
      ok: false,
      reason: DecodeRefusal.WrongVersion,
      detail: `version ${JSON.stringify(value.v)}, this node speaks ${PROTOCOL_VERSION}`,
    };
  }
  const schema = Object.hasOwn(SCHEMAS, value.type)
    ? SCHEMAS[value.type as MessageType]
    : undefined;
  if (!schema) {
    return { ok: false, reason: DecodeRefusal.UnknownType, detail: `type ${value.type}` };
  }
  const parsed = v.safeParse(schema, value, PARSE_CONFIG);
  if (!parsed.success) {
    return { ok: false, reason: DecodeRefusal.Invalid, detail: firstIssue(parsed.issues) };
  }
  return { ok: true, msg: parsed.output as Message };
}
