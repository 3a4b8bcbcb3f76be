// Where an idle herd node's bytes go: N herd agents in the lab (as membership_bench.ts
// starts them), then over --idle-seconds the bytes and packets each host sent on its link
// beside the agents' own counters (messages and encoded bytes by type, dials, pool churn,
// probes, push-pulls). Link bytes include QUIC's packets, headers and ACKs; the difference
// between the two is QUIC's and the kernel's share. Also each agent's CPU time (user +
// system, /proc/<pid>/stat) over the same window: what many agents on few cores cost.
//
//   deno run -A bench/lab/herd_traffic.ts [--n 10] [--settle-seconds 15] [--idle-seconds 30]
//     [--herd-set KEY=VALUE]...

import { parseArgs } from "node:util";
import { benchArgs } from "../_args.ts";
import { Lab } from "../../tests/lab/_netns.ts";
import { rates } from "../../tests/lab/_measure.ts";
import { HerdSystem } from "./herd_system.ts";

const { values } = parseArgs({
  args: benchArgs(),
  options: {
    n: { type: "string", default: "10" },
    "settle-seconds": { type: "string", default: "15" },
    "idle-seconds": { type: "string", default: "30" },
    "herd-set": { type: "string", multiple: true, default: [] },
  },
});
const n = Number(values.n);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** User + system CPU seconds a process has used (/proc/<pid>/stat, clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** `herd_x_total{type="Ping"} 3` → { "x_total{type=Ping}": 3 } (counters and gauges alike). */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("herd_")) continue;
    const m = /^herd_(\S+?)(?:\{(\w+)="([^"]*)"\})? (\S+)$/.exec(line);
    if (m) out.set(m[2] ? `${m[1]}{${m[3]}}` : m[1], Number(m[4]));
  }
  return out;
}

const lab = await Lab.create({ hosts: n });
const sys = new HerdSystem(values["herd-set"].flatMap((kv) => ["--set", kv]));
try {
  await sys.prepare(lab, n);
  await sys.start(lab, 1, null);
  await Promise.all(
    Array.from({ length: n - 1 }, (_, k) => sys.start(lab, k + 2, lab.host(1).ip)),
  );
  console.error(`started ${n}; settling ${values["settle-seconds"]} s`);
  await sleep(Number(values["settle-seconds"]) * 1000);
  const hosts = Array.from({ length: n }, (_, k) => k + 1);
  const read = () => Promise.all(hosts.map(async (i) => parseMetrics(await sys.metrics(i))));
  const [m0, t0] = [await read(), await lab.traffic()];
  const c0 = hosts.map((i) => cpuSeconds(sys.pid(i)));
  const s0 = performance.now();
  await sleep(Number(values["idle-seconds"]) * 1000);
  const [m1, t1] = [await read(), await lab.traffic()];
  const secs = (performance.now() - s0) / 1000;
  const cpu = hosts.map((i, k) => cpuSeconds(sys.pid(i)) - c0[k]);
  const link = [...rates(t0, t1, secs).values()];
  const perNode = (f: (x: { txBytes: number; txPackets: number }) => number) =>
    link.reduce((s, x) => s + f(x), 0) / n;
  console.log(`N = ${n}, ${secs.toFixed(1)} s idle, per node and second:`);
  console.log(
    `  link: sent ${perNode((x) => x.txBytes).toFixed(0)} B, ${
      perNode((x) => x.txPackets).toFixed(2)
    } packets`,
  );
  console.log(
    `  agent CPU: ${(100 * cpu.reduce((a, b) => a + b, 0) / n / secs).toFixed(2)} % of a core ` +
      `mean, ${(100 * Math.max(...cpu) / secs).toFixed(2)} % max (load ${
        Deno.readTextFileSync("/proc/loadavg").split(" ")[0]
      })`,
  );
  const keys = new Set(m1.flatMap((m) => [...m.keys()]));
  const rows: Array<[string, number]> = [];
  for (const k of keys) {
    if (/_bytes$|^(heap|external|capacity|allocated|memory|jobs_running|load1)/.test(k)) continue;
    const d = hosts.reduce((s, i) => s + (m1[i - 1].get(k) ?? 0) - (m0[i - 1].get(k) ?? 0), 0);
    if (d !== 0) rows.push([k, d / n / secs]);
  }
  rows.sort((a, b) => a[0].localeCompare(b[0]));
  for (const [k, v] of rows) console.log(`  ${k.padEnd(58)} ${v.toFixed(3)}`);
  const gauges = ["transport_pooled", "transport_connections_open", "membership_health_score"];
  for (const g of gauges) {
    console.log(
      `  ${g.padEnd(58)} ${(m1.reduce((s, m) => s + (m.get(g) ?? 0), 0) / n).toFixed(2)}`,
    );
  }
} finally {
  await sys.stopAll();
  await lab.destroy();
}
