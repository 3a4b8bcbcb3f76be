// What one connection costs: a QUIC handshake plus the node-certificate proofs on both ends.
// A transport with a pool of 1 sends alternately to two peers, so every send dials and
// evicts the other connection. All three nodes live in this process: the CPU per dial is
// the dialer's and the server's together.
//
//   deno run -A --unstable-net --unstable-kv bench/dial_bench.ts [--dials 300]

import { parseArgs } from "node:util";
import { benchArgs } from "./_args.ts";
import process from "node:process";
import { extraNode, identityOf, ping, SETTINGS, start } from "../tests/core/transport/_helpers.ts";

const { values } = parseArgs({
  args: benchArgs(),
  options: { dials: { type: "string", default: "300" } },
});
const dials = Number(values.dials);
const nodes = [await extraNode(), await extraNode(), await extraNode()];
const names = new Map<string, string>();
const running = [];
for (const [i, n] of nodes.entries()) {
  const r = await start(await identityOf(n), {
    names,
    settings: { ...SETTINGS, maxConnections: i === 0 ? 1 : 32 },
  });
  names.set(r.address, n.id);
  running.push(r);
}
const [a, b, c] = running;
let arrived: (() => void) | undefined;
for (const r of [b, c]) r.t.onMessage(() => arrived?.());
const idOf = new Map([[b, nodes[1].id], [c, nodes[2].id]]);
const sendAndWait = (to: typeof b, seq: number) =>
  new Promise<void>((resolve) => {
    arrived = resolve;
    a.t.send(to.address, ping(seq, from, idOf.get(to)!));
  });
const from = { id: nodes[0].id, address: a.address };
// warm up
for (let i = 0; i < 20; i++) {
  const to = i % 2 ? c : b;
  await sendAndWait(to, i);
}
const wall: number[] = [];
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < dials; i++) {
  const to = i % 2 ? c : b;
  const s = performance.now();
  await sendAndWait(to, 100 + i);
  wall.push(performance.now() - s);
}
const elapsed = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
wall.sort((x, y) => x - y);
const q = (p: number) => wall[Math.min(wall.length - 1, Math.floor(p * wall.length))].toFixed(2);
console.log(
  `${dials} dials in ${elapsed.toFixed(0)} ms: wall per dial p50 ${q(0.5)} p99 ${q(0.99)} ms; ` +
    `CPU per dial (both ends) ${((cpu.user + cpu.system) / 1000 / dials).toFixed(2)} ms ` +
    `(user ${(cpu.user / 1000 / dials).toFixed(2)}, sys ${
      (cpu.system / 1000 / dials).toFixed(2)
    }); dials counted ${a.t.stats.dials}`,
);
for (const r of running) await r.t.close();
Deno.exit(0);
