// Micro-benchmarks of membership's hot paths and of the simulator itself:
//   deno bench -A bench/sim_bench.ts

import { BroadcastQueue } from "../core/membership/broadcast_queue.ts";
import { aliveMsg, DATAGRAM_BUDGET_BYTES } from "../core/membership/messages.ts";
import { seededRng } from "../core/membership/rng.ts";
import { newCoordinate, VIVALDI_DEFAULTS, VivaldiClient } from "../core/membership/vivaldi.ts";
import { defaultMeta, SimCluster } from "../sim/cluster.ts";
import { profileTimings } from "../sim/scenarios.ts";

const queue = new BroadcastQueue(4);
for (let i = 0; i < 1_000; i++) {
  queue.enqueue(
    `n${i}`,
    aliveMsg({ id: `n${i}`, address: `10.0.0.${i}:7946`, incarnation: 1, meta: defaultMeta(i) }),
  );
}
let refill = 0;
Deno.bench("broadcast queue: take one datagram's worth of 1,000 rumors", () => {
  if (queue.size < 100) {
    for (let i = 0; i < 1_000; i++) {
      queue.enqueue(
        `n${i}`,
        aliveMsg({ id: `n${i}`, address: "a", incarnation: ++refill, meta: {} }),
      );
    }
  }
  queue.take(DATAGRAM_BUDGET_BYTES, 1_000);
});

const viv = new VivaldiClient(VIVALDI_DEFAULTS, seededRng(1));
const other = { ...newCoordinate(), vec: [0.001, 0, 0, 0, 0, 0, 0, 0] };
Deno.bench("vivaldi: one round-trip sample", () => {
  viv.update("peer", other, 1.5);
});

const cluster = new SimCluster({ nodes: 100, seed: 1, timings: profileTimings("lan") });
cluster.startAll();
cluster.scheduler.runUntil(() => cluster.running().length === 100 && cluster.converged(), 60_000);
cluster.scheduler.runFor(60_000);
Deno.bench("simulator: one simulated second of a converged 100-node cluster", () => {
  cluster.scheduler.runFor(1_000);
});
