// Real Swim nodes talking through the codec (virtual time, no sockets): every message
// the protocol actually sends — pings with piggybacked rumors, relayed acks, push-pulls,
// gossip, suspicions after a kill, a leave — must encode and pass validation, and the
// datagram-channel ones must (nearly always) fit one QUIC datagram.

import assert from "node:assert/strict";
import { seededRandom } from "../../../core/clock.ts";
import { newNodeId } from "../../../core/ids.ts";
import { MemberState } from "../../../core/membership/member.ts";
import { channelOf, type Message, MessageType } from "../../../core/membership/messages.ts";
import { seededRng } from "../../../core/membership/rng.ts";
import { Swim } from "../../../core/membership/swim.ts";
import { decodeMessage, encodeMessage } from "../../../core/transport/codec.ts";
import { defaultMeta } from "../../../sim/cluster.ts";
import { fromWire, toWire } from "../../../core/transport/wire_form.ts";
import { profileTimings } from "../../../sim/scenarios.ts";
import { VirtualScheduler } from "../../../sim/virtual_scheduler.ts";

/** QUIC's datagram payload on a 1,500-byte path, as Deno reports it on loopback. */
const QUIC_DATAGRAM_BYTES = 1_162;

Deno.test("codec: a Swim cluster's real traffic all decodes, and datagrams fit", async () => {
  const sched = new VirtualScheduler();
  const rnd = seededRandom(11);
  const n = 8;
  const nodes = Array.from({ length: n }, (_, i) => ({
    id: newNodeId(rnd),
    address: `10.0.${i}.1:7946`,
    swim: undefined as Swim | undefined,
  }));
  const byAddress = new Map(nodes.map((x) => [x.address, x]));
  const failures: string[] = [];
  const types = new Map<number, number>();
  let datagrams = 0;
  let oversized = 0;
  let maxDatagram = 0;

  for (const [i, node] of nodes.entries()) {
    node.swim = new Swim({
      self: { id: node.id, address: node.address },
      timings: profileTimings("local"),
      scheduler: sched,
      rng: seededRng(i + 1),
      meta: defaultMeta(i),
      send(to: string, msg: Message) {
        const bytes = encodeMessage(msg);
        const d = decodeMessage(bytes);
        if (!d.ok) {
          failures.push(`${msg.type}: ${d.reason}: ${d.detail}`);
          return;
        }
        // Equal but for coordinates, which travel rounded to 0.1 µs.
        assert.deepEqual(d.msg, JSON.parse(JSON.stringify(fromWire(toWire(msg)))));
        const count = (t: number) => types.set(t, (types.get(t) ?? 0) + 1);
        count(msg.type);
        if ("gossip" in msg) { for (const r of msg.gossip ?? []) count(r.type); }
        if (channelOf(msg) === "datagram") {
          datagrams++;
          maxDatagram = Math.max(maxDatagram, bytes.length);
          if (bytes.length > QUIC_DATAGRAM_BYTES) oversized++;
        }
        const target = byAddress.get(to);
        sched.after(1, () => target?.swim?.receive(node.address, d.msg));
      },
    });
  }
  for (const node of nodes) node.swim!.start();
  for (const node of nodes.slice(1)) void node.swim!.join([nodes[0].address]);
  const converged = () =>
    nodes.every((x) => !x.swim!.running || x.swim!.count(MemberState.Alive) === n);
  assert.ok(sched.runUntil(converged, 30_000) !== undefined, "the cluster converges");

  // A crash (suspicions, indirect probes, nacks), then a graceful leave.
  nodes[n - 1].swim!.stop();
  sched.runFor(20_000);
  const leaving = nodes[n - 2].swim!.leave();
  sched.runFor(5_000);
  await leaving;
  for (const node of nodes) node.swim!.stop();

  assert.deepEqual(failures, []);
  // every type was exercised (rumors counted where they ride)
  for (const t of Object.values(MessageType)) {
    // App messages belong to services (the job service), not to membership.
    if (t !== MessageType.App) assert.ok((types.get(t) ?? 0) > 0, `type ${t} sent`);
  }
  assert.ok(datagrams > 100);
  // The protocol budgets datagrams by JSON size; MessagePack is smaller, so they fit.
  assert.equal(oversized, 0, `largest datagram-channel message: ${maxDatagram} bytes`);
});
