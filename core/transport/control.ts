// The transport's own frames: what the first bidirectional stream of a connection
// carries before any membership message may flow - the connection proof exchange of
// docs/security.md, or a join. MessagePack, each frame length-prefixed (framing.ts),
// validated by a strict schema like the messages (codec.ts).

import * as v from "valibot";
import { CHALLENGE_BYTES } from "../identity/connection_auth.ts";
import { JOIN_NONCE_BYTES } from "../identity/join.ts";
import { NODE_ID_PATTERN } from "../identity/names.ts";
import { bytesOf, firstIssue, isRecord, packValue, unpackValue } from "./_msgpack.ts";
import { TICKET_ID_BYTES, TICKET_SECRET_BYTES } from "./tickets.ts";

/** Version of the control frames (and of the ALPN `herd/1`). */
export const TRANSPORT_VERSION = 1;
/** The ALPN protocol: a peer speaking anything else fails the TLS handshake. */
export const ALPN = [`herd/${TRANSPORT_VERSION}`];
/** Largest control frame: two certificates' worth. */
export const MAX_CONTROL_BYTES = 16 * 1024;

/** Wire codes. Only append. */
export const ControlType = {
  /** dialer -> server: { id, cert, challenge } */
  AuthHello: 0,
  /** server -> dialer: { challenge, cert, signature over the dialer's challenge } */
  AuthServerProof: 1,
  /** dialer -> server: { signature over the server's challenge } */
  AuthDialerProof: 2,
  /** server -> dialer: authenticated, membership traffic may flow. */
  AuthOk: 3,
  /** either way: { reason }, then the connection closes. Never a detail. */
  Refused: 4,
  /** joiner -> server: instead of AuthHello, for a node without a certificate yet. */
  JoinHello: 5,
  /** server -> joiner: { nonce } */
  JoinChallenge: 6,
  /** joiner -> server: join.ts's JoinRequest. */
  JoinRequest: 7,
  /** server -> joiner: { certPem, caPem } */
  JoinGranted: 8,
} as const;
export type ControlType = typeof ControlType[keyof typeof ControlType];

/** Signatures are 64 bytes (P-256, IEEE P1363); the identity checks refuse other sizes with reasons. */
const SIGNATURE_MAX = 256;
const PEM_MAX = 8 * 1024;

const NodeId = v.pipe(v.string(), v.regex(NODE_ID_PATTERN, "must be a node id"));
const Pem = v.pipe(v.string(), v.maxLength(PEM_MAX));
const Signature = bytesOf(1, SIGNATURE_MAX);
const Version = v.literal(TRANSPORT_VERSION);
/** Refusal reasons are short kebab-case constants (`auth-bad-signature`, `join-bad-mac`). */
const Reason = v.pipe(v.string(), v.regex(/^[a-z0-9-]{1,64}$/, "must be a reason constant"));

const frame = <T extends ControlType, E extends v.ObjectEntries>(type: T, entries: E) =>
  v.strictObject({ type: v.literal(type), v: Version, ...entries });

const SCHEMAS = {
  [ControlType.AuthHello]: frame(ControlType.AuthHello, {
    id: NodeId,
    cert: Pem,
    challenge: bytesOf(CHALLENGE_BYTES),
    /** A resumption ticket this dialer holds for the server (tickets.ts). */
    ticket: v.optional(bytesOf(TICKET_ID_BYTES)),
  }),
  [ControlType.AuthServerProof]: frame(ControlType.AuthServerProof, {
    challenge: bytesOf(CHALLENGE_BYTES),
    cert: Pem,
    signature: Signature,
    /** The signature is the ticket's HMAC: the dialer answers with one too. */
    resumed: v.optional(v.literal(true)),
  }),
  [ControlType.AuthDialerProof]: frame(ControlType.AuthDialerProof, { signature: Signature }),
  [ControlType.AuthOk]: frame(ControlType.AuthOk, {
    /** A new resumption ticket for the dialer: its id and secret. */
    ticket: v.optional(bytesOf(TICKET_ID_BYTES)),
    secret: v.optional(bytesOf(TICKET_SECRET_BYTES)),
  }),
  [ControlType.Refused]: frame(ControlType.Refused, { reason: Reason }),
  [ControlType.JoinHello]: frame(ControlType.JoinHello, {}),
  [ControlType.JoinChallenge]: frame(ControlType.JoinChallenge, {
    nonce: bytesOf(JOIN_NONCE_BYTES),
  }),
  [ControlType.JoinRequest]: frame(ControlType.JoinRequest, {
    nonce: bytesOf(JOIN_NONCE_BYTES),
    serverNodeId: NodeId,
    nodeId: NodeId,
    publicKeySpki: bytesOf(1, 256),
    timestampMs: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
    mac: bytesOf(1, 64),
    signature: Signature,
  }),
  [ControlType.JoinGranted]: frame(ControlType.JoinGranted, { certPem: Pem, caPem: Pem }),
} as const;

type Schemas = typeof SCHEMAS;
export type ControlFrame = { [K in ControlType]: v.InferOutput<Schemas[K]> }[ControlType];
export type ControlOf<T extends ControlType> = v.InferOutput<Schemas[T]>;
/** What a caller writes: the version is added by `encodeControl`. */
export type ControlBody = ControlFrame extends infer F ? F extends unknown ? Omit<F, "v"> : never
  : never;

export const encodeControl = (frame: ControlBody): Uint8Array =>
  packValue({ ...frame, v: TRANSPORT_VERSION });

export type DecodedControl =
  | { ok: true; frame: ControlFrame }
  | { ok: false; detail: string };

/** Decodes and validates one control frame. Never throws. */
export function decodeControl(bytes: Uint8Array): DecodedControl {
  const raw = unpackValue(bytes);
  if (!raw.ok) return { ok: false, detail: `malformed: ${raw.detail}` };
  const value = raw.value;
  if (!isRecord(value) || typeof value.type !== "number") {
    return { ok: false, detail: "not a control frame" };
  }
  if (value.v !== TRANSPORT_VERSION) {
    return { ok: false, detail: `transport version ${JSON.stringify(value.v)}` };
  }
  const schema = Object.hasOwn(SCHEMAS, value.type)
    ? SCHEMAS[value.type as ControlType]
    : undefined;
  if (!schema) return { ok: false, detail: `control type ${value.type}` };
  const parsed = v.safeParse(schema, value, { abortEarly: true });
  if (!parsed.success) return { ok: false, detail: firstIssue(parsed.issues) };
  return { ok: true, frame: parsed.output as ControlFrame };
}
