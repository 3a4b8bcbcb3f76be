import assert from "node:assert/strict";
import {
  channelOf,
  estimateBytes,
  MessageType,
  PROTOCOL_VERSION,
} from "../../../core/membership/messages.ts";

Deno.test("wire codes only grow: released codes keep their numbers", () => {
  assert.deepEqual(MessageType, {
    Ping: 0,
    PingReq: 1,
    Ack: 2,
    Nack: 3,
    Suspect: 4,
    Alive: 5,
    Dead: 6,
    PushPullRequest: 7,
    PushPullResponse: 8,
    Gossip: 9,
    App: 10,
  });
  assert.equal(PROTOCOL_VERSION, 3);
});

Deno.test("push-pull and the fallback ping ride streams; the rest datagrams", () => {
  const from = { id: "a", address: "a:1" };
  const v = PROTOCOL_VERSION;
  assert.equal(channelOf({ type: MessageType.Ping, v, seq: 1, target: "b", from }), "datagram");
  assert.equal(
    channelOf({ type: MessageType.Ping, v, seq: 1, target: "b", from, reliable: true }),
    "stream",
  );
  assert.equal(
    channelOf({ type: MessageType.Ack, v, seq: 1, from: "b", reliable: true }),
    "stream",
  );
  assert.equal(
    channelOf({ type: MessageType.PushPullResponse, v, seq: 1, from, members: [] }),
    "stream",
  );
  assert.equal(channelOf({ type: MessageType.Gossip, v, from: "a", gossip: [] }), "datagram");
});

Deno.test("the size estimate is the JSON length, frozen parts remembered", () => {
  const meta = Object.freeze({ class: "Edge", labels: { zone: "lab" }, load: [0.25, 1e-7, -3] });
  const samples: unknown[] = [
    { a: 1, b: "x", c: [true, false, null], d: undefined, e: 12345, f: 1.5 },
    { type: 5, v: 1, id: "n0001", address: "10.0.0.1:7946", incarnation: 42, meta },
    [],
    {},
  ];
  for (const s of samples) assert.equal(estimateBytes(s), JSON.stringify(s).length);
  assert.equal(estimateBytes(meta), JSON.stringify(meta).length, "again, from the cache");
});
