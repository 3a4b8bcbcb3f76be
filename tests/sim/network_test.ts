import assert from "node:assert/strict";
import { type Message, MessageType, PROTOCOL_VERSION } from "../../core/membership/messages.ts";
import { seededRng } from "../../core/membership/rng.ts";
import { SimNetwork } from "../../sim/network.ts";
import { VirtualScheduler } from "../../sim/virtual_scheduler.ts";

const gossip: Message = { type: MessageType.Gossip, v: PROTOCOL_VERSION, from: "a", gossip: [] };
const push: Message = {
  type: MessageType.PushPullRequest,
  v: PROTOCOL_VERSION,
  seq: 1,
  from: { id: "a", address: "a" },
  join: false,
  members: [],
};

function net(loss: number) {
  const v = new VirtualScheduler();
  const n = new SimNetwork(v, seededRng(9), { loss });
  const got: string[] = [];
  for (const h of ["a", "b", "c"]) n.attach(h, (from, msg) => got.push(`${from}>${h}:${msg.type}`));
  return { v, n, got };
}

Deno.test("datagrams are lost at the link's rate; streams arrive, later", () => {
  const { v, n, got } = net(0.3);
  for (let i = 0; i < 2_000; i++) n.send("a", "b", gossip);
  for (let i = 0; i < 200; i++) n.send("a", "c", push);
  v.runFor(10_000);
  const datagrams = got.filter((g) => g.startsWith("a>b")).length;
  assert.ok(datagrams > 1_300 && datagrams < 1_500, `${datagrams} of 2,000 arrived`);
  assert.equal(got.filter((g) => g.startsWith("a>c")).length, 200);
  const t = n.traffic("a");
  assert.equal(t.sentMsgs, 2_200);
  assert.equal(
    t.sentBytes,
    2_000 * JSON.stringify(gossip).length + 200 * JSON.stringify(push).length,
  );
});

Deno.test("partitions and detached hosts drop everything, both ways, until healed", () => {
  const { v, n, got } = net(0);
  n.partition([["a"], ["b"]]);
  n.send("a", "b", push);
  n.send("b", "a", gossip);
  n.send("a", "c", gossip);
  v.runFor(1_000);
  assert.deepEqual(got, ["a>c:9"]);
  n.heal();
  n.detach("c");
  n.send("a", "b", gossip);
  n.send("a", "c", gossip);
  n.send("c", "a", gossip);
  v.runFor(1_000);
  assert.deepEqual(got, ["a>c:9", "a>b:9"]);
});

Deno.test("delay grows with distance and stays within the configured spread", () => {
  const { n } = net(0);
  const d = n.delayMs("a", "b");
  assert.ok(d >= 0.2 && d <= 0.2 + 2 * Math.SQRT2, String(d));
  assert.equal(d, n.delayMs("b", "a"));
});
