import assert from "node:assert/strict";
import { MemberState } from "../../../core/membership/member.ts";
import {
  aliveMsg,
  deadMsg,
  type Message,
  MessageType,
  PROTOCOL_VERSION,
  suspectMsg,
} from "../../../core/membership/messages.ts";
import { NACK_FRACTION } from "../../../core/membership/probe.ts";
import { MembershipError } from "../../../core/membership/swim.ts";
import { addr, harness, rumorsSent } from "./_harness.ts";

const nine = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9"];
const alive = (id: string, incarnation: number, meta = {}) =>
  aliveMsg({ id, address: addr(id), incarnation, meta });

// The harness's timings: probe 200 ms / 100 ms, suspicionMult 3 × 200 ms, max 6×. With
// 10 members: min = 3 · max(1, log10 10) · 200 ms = 600 ms, max = 3,600 ms, K = 1.
const MIN = 600;
const MAX = 3_600;

Deno.test("alive: a higher incarnation is applied, an equal or older one ignored", () => {
  const h = harness();
  h.addMembers(["m1"]);
  assert.equal(h.eventsOf("NodeJoined").length, 1);
  h.swim.receive("x", alive("m1", 1, { v: 2 }));
  h.swim.receive("x", alive("m1", 0, { v: 3 }));
  assert.deepEqual(h.swim.member("m1")?.meta, {});
  h.swim.receive("x", alive("m1", 2, { v: 2 }));
  assert.equal(h.swim.member("m1")?.incarnation, 2);
  assert.deepEqual(h.swim.member("m1")?.meta, { v: 2 });
  assert.equal(h.eventsOf("NodeUpdated").length, 1);
});

Deno.test("suspect: an older incarnation is ignored; a lone accusation expires after the max", () => {
  const h = harness();
  h.addMembers(nine);
  h.swim.receive("x", alive("m1", 3));
  h.swim.receive("x", suspectMsg("m1", 2, "m2"));
  assert.equal(h.swim.member("m1")?.state, MemberState.Alive);
  h.swim.receive("x", suspectMsg("m1", 3, "m2"));
  assert.equal(h.swim.member("m1")?.state, MemberState.Suspect);
  assert.deepEqual(h.eventsOf("NodeSuspect").map((e) => "by" in e && e.by), ["m2"]);
  h.sched.runFor(MAX - 1);
  assert.equal(h.swim.member("m1")?.state, MemberState.Suspect, "still time to refute");
  h.sched.runFor(2);
  assert.equal(h.swim.member("m1")?.state, MemberState.Dead);
  const failed = h.eventsOf("NodeFailed");
  assert.equal(failed.length, 1);
  assert.equal("by" in failed[0] && failed[0].by, "self");
  h.sched.runFor(300);
  assert.ok(rumorsSent(h).some((r) => r.type === MessageType.Dead && r.id === "m1"));
});

Deno.test("suspect: an independent confirmation brings the timeout down to the min", () => {
  const h = harness();
  h.addMembers(nine);
  h.swim.receive("x", suspectMsg("m1", 1, "m2"));
  h.swim.receive("x", suspectMsg("m1", 1, "m2")); // the same accuser: no confirmation
  h.sched.runFor(100);
  h.swim.receive("x", suspectMsg("m1", 1, "m3"));
  h.sched.runFor(MIN - 100 - 1);
  assert.equal(h.swim.member("m1")?.state, MemberState.Suspect);
  h.sched.runFor(2);
  assert.equal(h.swim.member("m1")?.state, MemberState.Dead);
});

Deno.test("a refutation (alive with a higher incarnation) clears the suspicion", () => {
  const h = harness();
  h.addMembers(nine);
  h.swim.receive("x", suspectMsg("m1", 1, "m2"));
  h.swim.receive("x", alive("m1", 1));
  assert.equal(h.swim.member("m1")?.state, MemberState.Suspect, "not a newer incarnation");
  h.swim.receive("x", alive("m1", 2));
  assert.equal(h.swim.member("m1")?.state, MemberState.Alive);
  assert.equal(h.eventsOf("NodeAlive").length, 1);
  h.sched.runFor(MAX * 2);
  assert.equal(h.swim.member("m1")?.state, MemberState.Alive, "the timer was cleared");
});

Deno.test("refute: accused of being suspect or dead, a node outbids the accusation", () => {
  const h = harness();
  h.addMembers(nine);
  assert.equal(h.swim.incarnation, 1);
  h.swim.receive("x", suspectMsg("self", 5, "m1"));
  assert.equal(h.swim.incarnation, 6);
  assert.equal(h.swim.health, 1, "having to refute is a hint we are slow");
  assert.equal(h.swim.member("self")?.state, MemberState.Alive);
  h.swim.receive("x", deadMsg("self", 6, "m2"));
  assert.equal(h.swim.incarnation, 7);
  assert.equal(h.swim.stats.refutes, 2);
  h.sched.runFor(500);
  const alives = rumorsSent(h).filter((r) => r.type === MessageType.Alive && r.id === "self");
  assert.ok(alives.some((r) => r.type === MessageType.Alive && r.incarnation === 7));
  // Stale news about ourselves changes nothing.
  h.swim.receive("x", suspectMsg("self", 3, "m1"));
  assert.equal(h.swim.incarnation, 7);
});

Deno.test("an alive about ourselves that differs from us is refuted (a restart's stale state)", () => {
  const h = harness({ meta: { v: 1 } });
  h.swim.receive("x", alive("self", 1, { v: 0 }));
  assert.equal(h.swim.incarnation, 2);
  h.swim.receive(
    "x",
    aliveMsg({ id: "self", address: addr("self"), incarnation: 2, meta: { v: 1 } }),
  );
  assert.equal(h.swim.incarnation, 2, "exactly us: nothing to do");
});

Deno.test("dead: an older incarnation is ignored; a failed member returns only with a newer one", () => {
  const h = harness();
  h.addMembers(nine);
  h.swim.receive("x", alive("m1", 4));
  h.swim.receive("x", deadMsg("m1", 3, "m2"));
  assert.equal(h.swim.member("m1")?.state, MemberState.Alive);
  h.swim.receive("x", deadMsg("m1", 4, "m2"));
  assert.equal(h.swim.member("m1")?.state, MemberState.Dead);
  h.swim.receive("x", alive("m1", 4));
  assert.equal(h.swim.member("m1")?.state, MemberState.Dead);
  h.swim.receive("x", alive("m1", 5));
  assert.equal(h.swim.member("m1")?.state, MemberState.Alive);
  assert.equal(h.eventsOf("NodeJoined").filter((e) => e.member.id === "m1").length, 2);
});

Deno.test("a dead message from the member itself is a leave", () => {
  const h = harness();
  h.addMembers(nine);
  h.swim.receive("x", deadMsg("m1", 1, "m1"));
  assert.equal(h.swim.member("m1")?.state, MemberState.Left);
  assert.equal(h.eventsOf("NodeLeft").length, 1);
  assert.equal(h.eventsOf("NodeFailed").length, 0);
});

Deno.test("an up member's address cannot be taken over; a failed member may move", () => {
  const h = harness();
  h.addMembers(nine);
  h.swim.receive("x", aliveMsg({ id: "m1", address: "evil:1", incarnation: 9, meta: {} }));
  assert.equal(h.swim.member("m1")?.address, addr("m1"));
  assert.equal(h.swim.stats.addressConflicts, 1);
  h.swim.receive("x", deadMsg("m1", 1, "m2"));
  h.swim.receive("x", aliveMsg({ id: "m1", address: "new:1", incarnation: 1, meta: {} }));
  assert.equal(h.swim.member("m1")?.address, "new:1");
  assert.equal(h.swim.member("m1")?.state, MemberState.Alive);
});

Deno.test("setMeta bumps the incarnation and gossips the new metadata", () => {
  const h = harness({ meta: { load: { v: 1, cpu: 0.1 } } });
  h.addMembers(["m1"]);
  h.swim.setMeta({ load: { v: 2, cpu: 0.9 } });
  assert.equal(h.swim.incarnation, 2);
  assert.equal(h.eventsOf("NodeUpdated").length, 1);
  h.sched.runFor(1_000);
  const sent = rumorsSent(h).find((r) => r.type === MessageType.Alive && r.incarnation === 2);
  assert.deepEqual(sent && "meta" in sent && sent.meta, { load: { v: 2, cpu: 0.9 } });
  assert.throws(() => h.swim.setMeta({ big: "x".repeat(1_000) }), MembershipError);
});

Deno.test("a probe without an ack: ping requests to k relays, a fallback ping, a suspicion", () => {
  const h = harness();
  h.addMembers(nine);
  for (const id of nine) h.silent.add(addr(id));
  h.sched.runFor(200); // one probe interval: one round has started
  const ping = h.sentOf(MessageType.Ping)[0];
  assert.ok(ping, "a ping was sent");
  const target = ping.msg.target;
  const start = h.sent.indexOf(ping);
  h.sched.runFor(400);
  const after = h.sent.slice(start);
  const reqs = after.filter((s) =>
    s.msg.type === MessageType.PingReq && s.msg.seq === ping.msg.seq
  );
  assert.equal(reqs.length, 3, "indirectChecks relays");
  assert.ok(reqs.every((r) => r.to !== addr(target)));
  const nackAfter = reqs[0].msg.type === MessageType.PingReq && reqs[0].msg.nackAfterMs;
  assert.equal(nackAfter, Math.floor((200 - 100) * NACK_FRACTION));
  assert.ok(
    after.some((s) => s.msg.type === MessageType.Ping && s.msg.reliable && s.to === addr(target)),
  );
  assert.equal(h.swim.member(target)?.state, MemberState.Suspect);
  // The buddy system: the accused hears it directly.
  assert.ok(after.some((s) => s.msg.type === MessageType.Suspect && s.to === addr(target)));
  assert.ok(h.swim.health >= 3, "three relays, no nack: we may be the slow one");
});

Deno.test("relays that nack in time keep local health where it is (Lifeguard)", () => {
  const h = harness();
  h.addMembers(nine);
  h.silent.add(addr("m1"));
  for (const id of nine) h.nackers.add(addr(id));
  h.sched.runUntil(() => h.swim.member("m1")?.state === MemberState.Suspect, 10_000, 1);
  assert.equal(h.swim.health, 0);
});

Deno.test("an ack brings local health back down", () => {
  const h = harness();
  h.addMembers(nine);
  h.swim.receive("x", suspectMsg("self", 1, "m1"));
  h.swim.receive("x", suspectMsg("self", 2, "m1"));
  assert.equal(h.swim.health, 2);
  h.sched.runFor(1_000); // five acked probes
  assert.equal(h.swim.health, 0);
});

Deno.test("a ping is acked (with a coordinate when asked); one for someone else is not", () => {
  const h = harness();
  const from = { id: "m1", address: addr("m1") };
  h.swim.receive("x", {
    type: MessageType.Ping,
    v: PROTOCOL_VERSION,
    seq: 6,
    target: "self",
    from,
  });
  h.swim.receive("x", {
    type: MessageType.Ping,
    v: PROTOCOL_VERSION,
    seq: 7,
    target: "self",
    from,
    wantCoord: true,
  });
  h.swim.receive("x", {
    type: MessageType.Ping,
    v: PROTOCOL_VERSION,
    seq: 8,
    target: "other",
    from,
  });
  const acks = h.sentOf(MessageType.Ack);
  assert.deepEqual(acks.map((a) => [a.to, a.msg.seq]), [[addr("m1"), 6], [addr("m1"), 7]]);
  assert.equal(acks[0].msg.coord, undefined);
  assert.equal(acks[1].msg.coord?.vec.length, 8);
  assert.equal(h.swim.stats.misdirectedPings, 1);
});

Deno.test("unknown types and versions are counted, never thrown", () => {
  const h = harness();
  h.swim.receive("x", { type: 99, v: PROTOCOL_VERSION } as unknown as Message);
  h.swim.receive("x", { ...alive("m1", 1), v: PROTOCOL_VERSION + 1 } as unknown as Message);
  h.swim.receive("x", null as unknown as Message);
  assert.equal(h.swim.stats.unknownType, 1);
  assert.equal(h.swim.stats.badVersion, 2);
  assert.equal(h.swim.member("m1"), undefined);
});

Deno.test("push-pull: an accusation in a peer's state is checked by a probe, not adopted", () => {
  const h = harness();
  h.addMembers(nine);
  h.swim.receive("x", {
    type: MessageType.PushPullRequest,
    v: PROTOCOL_VERSION,
    seq: 1,
    from: { id: "m2", address: addr("m2") },
    join: false,
    members: [
      { id: "m1", address: addr("m1"), incarnation: 1, state: MemberState.Dead, meta: {} },
      { id: "new", address: addr("new"), incarnation: 1, state: MemberState.Alive, meta: {} },
      { id: "m3", address: addr("m3"), incarnation: 1, state: MemberState.Left, meta: {} },
    ],
  });
  assert.equal(h.swim.member("m1")?.state, MemberState.Alive, "not taken on trust");
  const check = h.sentOf(MessageType.Ping).find((p) => p.to === addr("m1"));
  assert.ok(check?.msg.gossip?.some((r) => r.type === MessageType.Suspect && r.id === "m1"));
  assert.equal(h.swim.member("new")?.state, MemberState.Alive);
  assert.equal(h.swim.member("m3")?.state, MemberState.Left);
  const reply = h.sentOf(MessageType.PushPullResponse);
  assert.equal(reply.length, 1);
  assert.equal(reply[0].to, addr("m2"));
  assert.equal(reply[0].msg.members.length, 11);
});

Deno.test("join resolves with the seeds that answered; leave gossips, waits, then stops", async () => {
  const h = harness();
  const joined = h.swim.join([addr("seed"), addr("gone")]);
  const reqs = h.sentOf(MessageType.PushPullRequest);
  assert.deepEqual(reqs.map((r) => [r.to, r.msg.join]), [[addr("seed"), true], [
    addr("gone"),
    true,
  ]]);
  h.swim.receive(addr("seed"), {
    type: MessageType.PushPullResponse,
    v: PROTOCOL_VERSION,
    seq: reqs[0].msg.seq,
    from: { id: "seed", address: addr("seed") },
    members: nine.map((id) => ({
      id,
      address: addr(id),
      incarnation: 1,
      state: MemberState.Alive,
      meta: {},
    })),
  });
  assert.equal(h.swim.live, 10);
  h.sched.runFor(5_000); // joinTimeout for "gone"
  assert.equal(await joined, 1);

  const left = h.swim.leave();
  assert.equal(h.swim.member("self")?.state, MemberState.Left);
  h.sched.runFor(10_000);
  await left;
  assert.equal(h.swim.running, false);
  const leaves = rumorsSent(h).filter((r) =>
    r.type === MessageType.Dead && r.id === "self" && r.from === "self"
  );
  assert.ok(leaves.length >= 1, "the leave was gossiped");
});

Deno.test("a ping asks for the target's coordinate only while ours is missing, unsettled or stale", () => {
  const h = harness({ timings: { gossipNodes: 0 } });
  h.addMembers(["m1"]);
  const pings = () => h.sentOf(MessageType.Ping).filter((p) => !p.msg.reliable);
  h.sched.runFor(400);
  assert.equal(pings()[0]?.msg.wantCoord, true, "none yet");
  // The scripted peer's acks carry no coordinate: it keeps asking.
  h.sched.runFor(1_000);
  assert.ok(pings().length >= 3 && pings().every((p) => p.msg.wantCoord));
});

Deno.test("each round warms the connection to the next round's probe target", () => {
  const h = harness();
  h.addMembers(nine);
  h.sched.runFor(200 * 20);
  const pings = h.sentOf(MessageType.Ping).filter((p) => !p.msg.reliable).map((p) => p.to);
  assert.ok(pings.length >= 15, String(pings.length));
  // every probe target after the first was warmed the round before
  for (const [i, to] of pings.entries()) {
    if (i > 0 && to !== pings[i - 1]) assert.ok(h.warmed.includes(to), `${to} not warmed`);
  }
  assert.ok(h.warmed.length >= 10);
});
