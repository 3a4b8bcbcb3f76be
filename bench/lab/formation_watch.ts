// Watches a herd cluster form on N lab hosts, second by second: how many members each
// host's log says are up (min / median / max over hosts), the agents' CPU, and one host's
// transport and membership counters. For finding where formation time goes.
//
//   deno run -A --unstable-net bench/lab/formation_watch.ts [--hosts 50] [--seconds 60]
//     [--settle 20] [--stagger AGENTS_PER_SECOND] [--set k=v]

import { parseArgs } from "node:util";
import { benchArgs } from "../_args.ts";
import { Lab } from "../../tests/lab/_netns.ts";
import { cpuMs, rssKiB } from "../../tests/lab/_measure.ts";
import { HerdSystem } from "./herd_system.ts";

const { values } = parseArgs({
  args: benchArgs(),
  options: {
    hosts: { type: "string", default: "50" },
    seconds: { type: "string", default: "60" },
    settle: { type: "string", default: "20" },
    stagger: { type: "string", default: "0" },
    set: { type: "string", multiple: true, default: [] },
  },
});
const n = Number(values.hosts);
const sys = new HerdSystem(values.set.flatMap((kv) => ["--set", kv]));
const lab = await Lab.create({ hosts: n });
const COUNTERS = [
  "herd_transport_dials_total",
  "herd_transport_accepted_total",
  "herd_transport_dial_failures_total",
  "herd_transport_evictions_total",
  "herd_transport_pooled",
  "herd_membership_probes_total",
  'herd_transport_sent_by_type_total{type="Gossip"}',
  'herd_transport_sent_by_type_total{type="PushPullRequest"}',
  'herd_membership_members{state="alive"}',
  'herd_membership_members{state="suspect"}',
  'herd_membership_members{state="dead"}',
];
try {
  await sys.prepare(lab, n);
  await sys.start(lab, 1, null);
  const t0 = performance.now();
  const up = new Set<number>([1]);
  (async () => {
    for (let i = 2; i <= n; i++) {
      // An agent that does not start is reported; the watch goes on (and the lab is destroyed).
      sys.start(lab, i, lab.host(1).ip).then(
        () => up.add(i),
        (e) => console.error(`h${i} did not start: ${e.message}`),
      );
      if (Number(values.stagger) > 0) {
        await new Promise((r) => setTimeout(r, 1000 / Number(values.stagger)));
      }
    }
  })();
  const watched = Math.ceil(n / 2);
  for (let s = 1; s <= Number(values.seconds); s++) {
    await new Promise((r) => setTimeout(r, Math.max(0, t0 + s * 1000 - performance.now())));
    const counts = [...up].map((i) => sys.upCount(i)).sort((a, b) => a - b);
    const cpu = [...up].reduce((sum, i) => sum + cpuMs(sys.pid(i)), 0);
    let m = "";
    if (up.has(watched)) {
      const text = await sys.metrics(watched);
      m = COUNTERS.map((c) => {
        const line = text.split("\n").find((l) => l.startsWith(c + " "));
        return `${c.replace(/^herd_(transport_|membership_)/, "").replace(/_total/, "")}=${
          line?.split(" ")[1] ?? "?"
        }`;
      }).join(" ");
    }
    console.log(
      `${s}s answering ${up.size} up min/med/max ${counts[0]}/${counts[counts.length >> 1]}/${
        counts[counts.length - 1]
      } cpu ${(cpu / 1000).toFixed(1)}s load ${
        Deno.readTextFileSync("/proc/loadavg").split(" ")[0]
      } | h${watched}: ${m}`,
    );
    if (counts[0] === n && up.size === n) break;
  }
  // What memory looks like once it has formed and settled.
  await new Promise((r) => setTimeout(r, Number(values.settle) * 1000));
  const rss = [...up].map((i) => rssKiB(sys.pid(i)) ?? 0).sort((a, b) => a - b);
  const mib = (k: number) => (k / 1024).toFixed(1);
  console.log(
    `after ${values.settle} s settled: RSS min/p50/max ${mib(rss[0])}/${
      mib(rss[rss.length >> 1])
    }/${mib(rss[rss.length - 1])} MiB`,
  );
  const rollup = Deno.readTextFileSync(`/proc/${sys.pid(watched)}/smaps_rollup`);
  console.log(`h${watched} smaps_rollup:\n${rollup.split("\n").slice(1, 12).join("\n")}`);
  const text = await sys.metrics(watched);
  console.log(
    text.split("\n").filter((l) =>
      /^herd_(transport_(pooled|connections_open|dials_total|accepted_total)|process_)/.test(l)
    ).join("\n"),
  );
  if (Deno.env.get("HERD_LAB_SHOW_LOG")) console.log(sys.describe(watched));
  const profiled = Number(Deno.env.get("HERD_LAB_PROFILE_HOST"));
  if (profiled) {
    // A graceful stop, so that the agent writes its CPU profile (see herd_system.ts).
    const pid = sys.pid(profiled);
    Deno.kill(pid, "SIGTERM");
    for (let t = 0; t < 300 && rssKiB(pid) !== null; t++) {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
} finally {
  await sys.stopAll();
  await lab.destroy();
}
