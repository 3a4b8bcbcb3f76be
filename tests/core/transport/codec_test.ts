import assert from "node:assert/strict";
import { encode } from "@msgpack/msgpack/dist.esm/index.mjs";
import { seededRandom } from "../../../core/clock.ts";
import { META_MAX_BYTES } from "../../../core/membership/member.ts";
import {
  type Alive,
  type Message,
  MessageType,
  PROTOCOL_VERSION,
  type Rumor,
} from "../../../core/membership/messages.ts";
import { MAX_RUMORS_PER_MESSAGE } from "../../../core/membership/swim.ts";
import {
  type Decoded,
  decodeMessage,
  DecodeRefusal,
  encodeMessage,
} from "../../../core/transport/codec.ts";
import { toWire } from "../../../core/transport/wire_form.ts";
import { ControlType, decodeControl, encodeControl } from "../../../core/transport/control.ts";

const v = PROTOCOL_VERSION;
const A = "0123456789abcdef";
const B = "fedcba9876543210";
const refA = { id: A, address: "10.0.0.1:7946" };
const refB = { id: B, address: "[fd00::2]:7946" };
const meta = { class: "Edge", cpus: 4, labels: { zone: "lab" }, load: { v: 1, cpu: 0.25 } };
const coord = {
  // Multiples of the wire unit (0.1 µs): they round-trip exactly.
  vec: [0.001, -0.002, 0, 0, 0, 0, 0, 1e-7],
  error: 0.5,
  adjustment: -1e-4,
  height: 1e-5,
};
const rumors: Rumor[] = [
  { type: MessageType.Alive, v, id: A, address: refA.address, incarnation: 3, meta },
  { type: MessageType.Suspect, v, id: B, incarnation: 1, from: A },
  { type: MessageType.Dead, v, id: B, incarnation: 2, from: B },
];
const entry = { id: A, address: refA.address, incarnation: 1, state: "alive" as const, meta };

/** One of each message type, with every optional field somewhere. */
const EXAMPLES: Message[] = [
  { type: MessageType.Ping, v, seq: 1, target: B, from: refA },
  { type: MessageType.Ping, v, seq: 2, target: B, from: refA, reliable: true, gossip: rumors },
  { type: MessageType.PingReq, v, seq: 3, target: refB, from: refA, nackAfterMs: 42.5 },
  { type: MessageType.Ack, v, seq: 4, from: B, coord, gossip: rumors },
  { type: MessageType.Ack, v, seq: 5, from: B, relayed: true, reliable: true },
  { type: MessageType.Nack, v, seq: 6, from: B, gossip: [] },
  rumors[1],
  rumors[0],
  rumors[2],
  { type: MessageType.PushPullRequest, v, seq: 7, from: refA, join: true, members: [entry] },
  { type: MessageType.PushPullResponse, v, seq: 8, from: refB, members: [entry, entry] },
  { type: MessageType.Gossip, v, from: A, gossip: rumors },
  {
    type: MessageType.App,
    v,
    svc: "job",
    op: "out",
    rid: 9,
    bulk: true,
    // A service body passes through untouched: its keys are not the wire form's.
    body: { t: "x", s: 1, d: new Uint8Array([1, 2, 3]), nested: [{ type: 1, from: "n" }] },
  },
];

const refusedAs = (d: Decoded, reason: string) => {
  assert.equal(d.ok, false, "should be refused");
  if (!d.ok) assert.equal(d.reason, reason, d.detail);
};
// As a peer would send it: the compact wire form of a (possibly bad) message.
const raw = (value: unknown) => decodeMessage(encode(toWire(value)));

Deno.test("codec: every message type round-trips", () => {
  const seen = new Set<number>();
  for (const msg of EXAMPLES) {
    const d = decodeMessage(encodeMessage(msg));
    assert.ok(d.ok, d.ok ? "" : `${msg.type}: ${d.reason}: ${d.detail}`);
    assert.deepEqual(d.msg, msg);
    seen.add(msg.type);
  }
  assert.deepEqual([...seen].sort((x, y) => x - y), Object.values(MessageType));
});

Deno.test("codec: an optional field left undefined is omitted, not sent as nil", () => {
  const d = decodeMessage(
    encodeMessage({ type: MessageType.Ack, v, seq: 1, from: A, coord: undefined }),
  );
  assert.ok(d.ok);
  assert.equal("coord" in d.msg, false);
});

Deno.test("codec: bytes that are not one MessagePack value are malformed", () => {
  refusedAs(decodeMessage(new Uint8Array([])), DecodeRefusal.Malformed);
  refusedAs(decodeMessage(new Uint8Array([0xc1])), DecodeRefusal.Malformed); // never used
  const ok = encodeMessage(EXAMPLES[0]);
  refusedAs(decodeMessage(ok.subarray(0, ok.length - 1)), DecodeRefusal.Malformed); // truncated
  refusedAs(decodeMessage(new Uint8Array([...ok, 0])), DecodeRefusal.Malformed); // trailing
  // an extension type (a MessagePack timestamp)
  refusedAs(decodeMessage(encode({ type: 0, v, at: new Date() })), DecodeRefusal.Malformed);
  // a __proto__ key
  refusedAs(
    decodeMessage(new Uint8Array([0x81, 0xa9, ...new TextEncoder().encode("__proto__"), 0x01])),
    DecodeRefusal.Malformed,
  );
});

Deno.test("codec: not a message, wrong version, unknown type", () => {
  refusedAs(raw([1, 2, 3]), DecodeRefusal.NotAMessage);
  refusedAs(raw("ping"), DecodeRefusal.NotAMessage);
  refusedAs(raw({ v, seq: 1 }), DecodeRefusal.NotAMessage);
  refusedAs(raw({ ...EXAMPLES[0], v: v + 1 }), DecodeRefusal.WrongVersion);
  // a version 1 peer (long field names)
  refusedAs(decodeMessage(encode({ ...EXAMPLES[0], v: 1 })), DecodeRefusal.WrongVersion);
  refusedAs(raw({ ...EXAMPLES[0], v: undefined }), DecodeRefusal.WrongVersion);
  refusedAs(raw({ ...EXAMPLES[0], type: 99 }), DecodeRefusal.UnknownType);
  refusedAs(raw({ ...EXAMPLES[0], type: -1 }), DecodeRefusal.UnknownType);
  refusedAs(raw({ ...EXAMPLES[0], type: 1.5 }), DecodeRefusal.UnknownType);
});

Deno.test("codec: extra, missing or ill-typed fields are invalid", () => {
  const ping = EXAMPLES[0] as Extract<Message, { type: 0 }>;
  const bad: Array<[string, unknown]> = [
    ["extra field", { ...ping, extra: 1 }],
    ["missing field", { type: 0, v, seq: 1, from: refA }],
    ["extra field in from", { ...ping, from: { ...refA, port: 1 } }],
    ["seq negative", { ...ping, seq: -1 }],
    ["seq fractional", { ...ping, seq: 1.5 }],
    ["seq unsafe", { ...ping, seq: 2 ** 60 }],
    ["target not a node id", { ...ping, target: "NODE" }],
    ["address without port", { ...ping, from: { ...refA, address: "10.0.0.1" } }],
    ["address with bad port", { ...ping, from: { ...refA, address: "10.0.0.1:70000" } }],
    ["address too long", { ...ping, from: { ...refA, address: "a".repeat(300) + ":1" } }],
    ["reliable false", { ...ping, reliable: false }],
    ["reliable nil", { ...ping, reliable: null }],
    ["binary id", { ...ping, target: new Uint8Array(16) }],
    ["nackAfter negative", { ...EXAMPLES[2], nackAfterMs: -1 }],
    ["coord NaN", { ...EXAMPLES[3], coord: { ...coord, error: NaN } }],
    ["coord Infinity", { ...EXAMPLES[3], coord: { ...coord, vec: [Infinity] } }],
    ["coord too wide", { ...EXAMPLES[3], coord: { ...coord, vec: new Array(65).fill(0) } }],
    ["member state", { ...EXAMPLES[9], members: [{ ...entry, state: "zombie" }] }],
    ["meta not an object", { ...rumors[0], meta: [1, 2] }],
    ["meta with binary", { ...rumors[0], meta: { k: new Uint8Array(4) } }],
    ["meta too big", { ...rumors[0], meta: { k: "x".repeat(META_MAX_BYTES) } }],
    ["meta too deep", {
      ...rumors[0],
      meta: JSON.parse('{"a":'.repeat(40) + "1" + "}".repeat(40)),
    }],
    ["rumor of wrong type", { ...EXAMPLES[11], gossip: [EXAMPLES[0]] }],
    ["rumor of wrong version", { ...EXAMPLES[11], gossip: [{ ...rumors[1], v: v + 1 }] }],
    [
      "too many rumors",
      { ...EXAMPLES[11], gossip: new Array(MAX_RUMORS_PER_MESSAGE + 1).fill(rumors[1]) },
    ],
    ["join not boolean", { ...EXAMPLES[9], join: 1 }],
  ];
  for (const [what, value] of bad) {
    const d = raw(value);
    assert.equal(d.ok, false, what);
    if (!d.ok) assert.equal(d.reason, DecodeRefusal.Invalid, `${what}: ${d.reason} ${d.detail}`);
  }
  // at the limits: accepted
  const rumorsAtLimit = {
    ...EXAMPLES[11],
    gossip: new Array(MAX_RUMORS_PER_MESSAGE).fill(rumors[1]),
  };
  assert.ok(raw(rumorsAtLimit).ok);
  const bigMeta = { k: "x".repeat(META_MAX_BYTES - 8) }; // {"k":"…"} is 8 more
  assert.ok(raw({ ...rumors[0], meta: bigMeta }).ok);
});

Deno.test("codec: a meta goes as bytes of its own, decoded once and shared, frozen", () => {
  const alive = { ...(rumors[0] as Alive), meta: { class: "Edge", load: { cpu: 0.5 } } };
  const bytes = encodeMessage(alive);
  const a = decodeMessage(bytes), b = decodeMessage(bytes);
  assert.ok(a.ok && b.ok);
  const metaOf = (m: unknown) => (m as { meta: Record<string, unknown> }).meta;
  assert.deepEqual(metaOf(a.msg), alive.meta);
  assert.equal(metaOf(a.msg), metaOf(b.msg), "the same bytes, the same object");
  assert.ok(Object.isFrozen(metaOf(a.msg)) && Object.isFrozen(metaOf(a.msg).load));
  // Sent on (a push-pull entry, a relayed rumor): the bytes it came as, byte for byte.
  assert.deepEqual(encodeMessage(a.msg), bytes);
  // Bytes that the schema refused are refused again, however often they come.
  const bad = encodeMessage({ ...alive, meta: { k: "x".repeat(META_MAX_BYTES) } });
  refusedAs(decodeMessage(bad), DecodeRefusal.Invalid);
  refusedAs(decodeMessage(bad), DecodeRefusal.Invalid);
  // Bytes that are no MessagePack value, or no object, are refused, not thrown.
  const wire = toWire(alive) as Record<string, unknown>;
  for (const m of [new Uint8Array([0xc1]), encode(7), encode([1, 2])]) {
    refusedAs(decodeMessage(encode({ ...wire, m })), DecodeRefusal.Invalid);
  }
});

Deno.test("codec: the detail says which field", () => {
  const d = raw({ ...EXAMPLES[0], target: "NODE" });
  assert.ok(!d.ok && d.detail.startsWith("target:"), JSON.stringify(d));
});

Deno.test("codec: random bytes and mutated messages never throw", () => {
  const rnd = seededRandom(7);
  const encoded = EXAMPLES.map(encodeMessage);
  let accepted = 0;
  for (let i = 0; i < 20_000; i++) {
    let bytes: Uint8Array;
    if (i % 2 === 0) {
      bytes = rnd(1 + (rnd(1)[0] % 64));
    } else {
      // flip a few bytes of a valid message, or cut it
      bytes = new Uint8Array(encoded[i % encoded.length]);
      const flips = 1 + (rnd(1)[0] % 4);
      for (let k = 0; k < flips; k++) {
        const [at, value] = rnd(2);
        bytes[at % bytes.length] = value;
      }
      if (rnd(1)[0] < 32) bytes = bytes.subarray(0, rnd(1)[0] % bytes.length);
    }
    const d = decodeMessage(bytes);
    if (d.ok) {
      accepted++;
      // whatever passes is a well-formed message: it encodes and decodes to itself
      assert.deepEqual(decodeMessage(encodeMessage(d.msg)), d);
    } else {
      assert.ok(Object.values(DecodeRefusal).includes(d.reason));
    }
  }
  assert.ok(accepted < 20_000);
});

Deno.test("control frames: round trip, and refusal of anything else", () => {
  const challenge = new Uint8Array(32).fill(7);
  const hello = { type: ControlType.AuthHello, id: A, cert: "PEM", challenge } as const;
  const d = decodeControl(encodeControl(hello));
  assert.ok(d.ok);
  assert.deepEqual(d.frame, { ...hello, v: 1 });
  const refused = decodeControl(encodeControl({ type: ControlType.Refused, reason: "auth-x" }));
  assert.ok(refused.ok);

  const bad: unknown[] = [
    { ...hello, v: 1, challenge: new Uint8Array(31) },
    { ...hello, v: 1, extra: true },
    { ...hello, v: 2 },
    { type: 99, v: 1 },
    { type: ControlType.Refused, v: 1, reason: "Has Spaces" },
    { type: ControlType.JoinRequest, v: 1 },
    [1, 2],
  ];
  for (const value of bad) assert.equal(decodeControl(encode(value)).ok, false);
  assert.equal(decodeControl(new Uint8Array([0xc1])).ok, false);
});

Deno.test("codec: the wire form is compact, coordinates to 0.1 µs", () => {
  const ping = encodeMessage(EXAMPLES[0]);
  assert.ok(ping.length < 70, `a ping is ${ping.length} bytes`);
  const c = {
    vec: [0.00123456789, -0.0005, 0, 0, 0, 0, 0, 3e-8],
    error: 0.123456,
    adjustment: 0,
    height: 1e-5,
  };
  const d = decodeMessage(encodeMessage({ type: MessageType.Ack, v, seq: 9, from: A, coord: c }));
  assert.ok(d.ok && d.msg.type === MessageType.Ack && d.msg.coord);
  const back = d.msg.coord!;
  c.vec.forEach((x, i) => assert.ok(Math.abs(back.vec[i] - x) <= 0.5e-7, `vec[${i}]`));
  assert.ok(Math.abs(back.error - c.error) <= 0.5e-4);
  assert.equal(back.height, 1e-5);
  assert.ok(encodeMessage(d.msg).length < 80);
});
