// Issue 5's placement round trip on network-namespace hosts: N herd agents (lan profile),
// one per host with its own address; h1 places small jobs one at a time (round-robin, so
// the targets are the other hosts), and reads its own /metrics summary of the offer's
// round trip (offer sent → admitted, remote targets). Beside it: what the client saw
// (POST /v1/jobs → 201, through the API relay) and the hosts' ICMP round trip.
//
//   deno run -A --unstable-kv --unstable-net --unstable-worker-options \
//     bench/lab/placement_bench.ts [--hosts 3] [--jobs 500] [--json]

import { parseArgs } from "node:util";
import { benchArgs } from "../_args.ts";
import { Lab } from "../../tests/lab/_netns.ts";
import { rssKiB } from "../../tests/lab/_measure.ts";
import { HerdSystem } from "./herd_system.ts";

const { values } = parseArgs({
  args: benchArgs(),
  options: {
    hosts: { type: "string", default: "3" },
    jobs: { type: "string", default: "500" },
    json: { type: "boolean", default: false },
  },
});
const N = Number(values.hosts), JOBS = Number(values.jobs);

const can = await Lab.available(["socat"]);
if (!can.ok) {
  console.log(`placement bench: skipped: ${can.why}`);
  Deno.exit(0);
}
const load1 = () => Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const lab = await Lab.create({ hosts: N });
const herd = new HerdSystem();
try {
  await herd.prepare(lab, N);
  await herd.start(lab, 1, null);
  for (let i = 2; i <= N; i++) await herd.start(lab, i, lab.host(1).ip);
  for (;;) {
    const r = await herd.api(1, "POST", "/v1/placements/explain", {});
    if ((await r.json()).feasible === N) break;
    await sleep(100);
  }
  const loadBefore = load1();
  const job = {
    executor: "exec",
    task: { command: ["true"] },
    resources: { cpu: 0.001, memBytes: 0 },
    placement: { policy: "round-robin" },
  };
  const client: number[] = [];
  for (let i = 0; i < JOBS; i++) {
    const t = performance.now();
    const r = await herd.api(1, "POST", "/v1/jobs", job);
    await r.body?.cancel();
    if (r.status !== 201) throw new Error(`placement ${i} answered ${r.status}`);
    client.push(performance.now() - t);
  }
  const metrics = await herd.metrics(1);
  const q = (x: string) =>
    Number(
      new RegExp(`herd_placement_round_trip_seconds\\{quantile="${x}"\\} (\\S+)`).exec(metrics)
        ?.[1],
    ) * 1000;
  const count = Number(/herd_placement_round_trip_seconds_count (\d+)/.exec(metrics)?.[1]);
  const ping = await lab.exec(1, "ping", ["-c", "20", "-i", "0.05", "-q", lab.host(2).ip]);
  const icmp = /= [\d.]+\/([\d.]+)\/[\d.]+\/([\d.]+) ms/.exec(ping.stdout);
  const out = {
    hosts: N,
    jobs: JOBS,
    load1: { before: loadBefore, after: load1() },
    offerRoundTripMs: { p50: q("0.5"), p90: q("0.9"), p99: q("0.99"), remoteOffers: count },
    clientSubmitMs: { p50: pct(client, 0.5), p99: pct(client, 0.99) },
    icmpRttMs: icmp ? { avg: Number(icmp[1]), mdev: Number(icmp[2]) } : undefined,
  };
  if (values.json) console.log(JSON.stringify(out, null, 2));
  else {
    console.log(
      `placement round trip on ${N} namespace hosts, ${JOBS} jobs one at a time from h1 (load ${loadBefore}):`,
    );
    console.log(
      `  offer → admitted (h1's /metrics, last 1024 of ${count} remote offers): p50 ${
        out.offerRoundTripMs.p50.toFixed(2)
      } ms, p90 ${out.offerRoundTripMs.p90.toFixed(2)} ms, p99 ${
        out.offerRoundTripMs.p99.toFixed(2)
      } ms`,
    );
    console.log(
      `  POST /v1/jobs → 201 (client, through the API relay): p50 ${
        out.clientSubmitMs.p50.toFixed(2)
      } ms, p99 ${out.clientSubmitMs.p99.toFixed(2)} ms`,
    );
    if (out.icmpRttMs) console.log(`  ICMP h1 → h2: avg ${out.icmpRttMs.avg} ms`);
  }
} finally {
  const profiled = Number(Deno.env.get("HERD_LAB_PROFILE_HOST"));
  if (profiled) {
    // A graceful stop, so that the agent writes its CPU profile (see herd_system.ts).
    const pid = herd.pid(profiled);
    Deno.kill(pid, "SIGTERM");
    for (let t = 0; t < 300 && rssKiB(pid) !== null; t++) {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await herd.stopAll();
  await lab.destroy();
}
