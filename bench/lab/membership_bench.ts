// Membership side by side on real addresses: for each system and cluster size N, on N lab
// hosts (network namespaces, tests/lab/_netns.ts; root only):
//
//   formation   start h1, then h2..hN at once, each joining h1. Time from the start of h2..hN
//               until each host sees N alive (per host; max and p50): from its agent's log
//               of joins and failures (upCount), confirmed by one members() call, or where
//               a system has no upCount by polling members() ~every 50 ms.
//   idle        after a settle time, bytes/s each host sent and received on its link over
//               --idle-seconds, no bench queries on the link; then RSS of each agent.
//   rtt         the system's own round-trip estimates over all pairs (p50, p99), if it has any.
//   detection   kill -9 of hN. Time from the kill until each other host's agent reports hN
//               failed (its failures() mark; max and p50), then confirmed by members().
//   false       --loss-percent loss on every host's input for --loss-minutes: every failure
//   failures    mark of a live member (hN excluded) counts. Then loss 0, and the time until
//               every live host sees every live member alive again.
//
//   deno run -A bench/lab/membership_bench.ts [--systems serf,herd] [--sizes 10,50,100] [--stagger R]
//     [--loss-minutes 5] [--loss-percent 10] [--idle-seconds 30] [--settle-seconds 10] [--json]
//     [--herd-set KEY=VALUE]...   (config for every herd agent, for tuning runs)
//
// Progress goes to stderr; the table (or with --json the results) to stdout. The System
// contract a system implements is in system.ts. Every run destroys its lab, also on error
// and on Ctrl-C (the lab's signal handler).

import { parseArgs } from "node:util";
import { benchArgs } from "../_args.ts";
import { Lab, pool } from "../../tests/lab/_netns.ts";
import { cpuMs, rates, rssKiB, udpCounters } from "../../tests/lab/_measure.ts";
import { HerdSystem } from "./herd_system.ts";
import { SerfSystem } from "./serf_system.ts";
import type { System } from "./system.ts";

const SYSTEMS: Record<string, (o: Options) => System> = {
  serf: () => new SerfSystem(),
  herd: (o) => new HerdSystem(o.herdSet.flatMap((kv) => ["--set", kv])),
};
const FORMATION_MS = 180_000;
const DETECTION_MS = 180_000;
const RECOVERY_MS = 120_000;
const POLL_GAP_MS = 50;
/** How often the logs' member counts are looked at (no request: a read of a counter). */
const WATCH_GAP_MS = 5;
const POLL_PARALLEL = 32;

export interface Result {
  system: string;
  n: number;
  formation?: {
    allMs: number;
    p50Ms: number;
    p90Ms: number;
    /** the three last hosts to see N alive: a long tail is a few hosts, not all */
    slowest: Array<{ host: string; ms: number }>;
    pollRoundP50Ms: number;
    pollRoundMaxMs: number;
    /** when the last of h2..hN answered (start() returned): the rest is the protocol */
    lastAnsweringMs: number;
    /** agents started per second (--stagger), when not all at once */
    staggerPerSecond?: number;
    /** CPU (user + system) all N agents used until formation, summed, and per agent */
    agentsCpuMs: number;
    /** summed over the hosts' namespaces since the lab was made: datagrams dropped, buffer full */
    udpRcvbufErrors: number;
    udpSndbufErrors: number;
  };
  /** /proc/loadavg (1 min) when each phase started: the machine may be shared */
  load?: Record<string, number>;
  idle?: {
    seconds: number;
    txBytesPerSec: { mean: number; max: number };
    rxBytesPerSec: { mean: number; max: number };
    txPacketsPerSec: { mean: number };
  };
  rss?: { meanMiB: number; maxMiB: number };
  rtt?: { p50Ms: number; p99Ms: number; pairs: number; source: string } | null;
  detection?: { victim: string; firstMs: number; allMs: number; p50Ms: number };
  falseFailures?: {
    lossPercent: number;
    minutes: number;
    marks: number;
    subjects: number;
    observers: number;
    perNodeMinute: number;
    recoveredMs: number | null;
  };
  error?: string;
}

const log = (s: string) => console.error(s);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

/** The 1-minute load average: other work on the machine skews every timing here. */
function loadavg1(): number {
  return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function formation(
  lab: Lab,
  sys: System,
  n: number,
  staggerPerSecond = 0,
): Promise<Result["formation"]> {
  const h1 = lab.host(1).ip;
  await sys.start(lab, 1, null);
  const t0 = now();
  const up = new Set<number>([1]);
  let lastAnsweringMs = 0;
  let startError: unknown = null;
  const starts = [];
  for (let i = 2; i <= n; i++) {
    // --stagger R: R agents a second instead of all at once (the time includes the wait).
    if (staggerPerSecond > 0 && i > 2) await sleep(1000 / staggerPerSecond);
    starts.push(
      sys.start(lab, i, h1).then(() => {
        up.add(i);
        lastAnsweringMs = now() - t0;
      }),
    );
  }
  Promise.all(starts).catch((e) => startError ??= e); // rethrown by the poll loop below

  const seen = new Map<number, number>();
  const rounds: number[] = [];
  while (seen.size < n) {
    if (startError) throw startError;
    if (now() - t0 > FORMATION_MS) {
      throw new Error(
        `formation: after ${FORMATION_MS} ms only ${seen.size} of ${n} hosts saw ${n} alive ` +
          `(${up.size} agents answering)`,
      );
    }
    const r0 = now();
    // With upCount, a host is asked for its member list only once its log says N are up;
    // the time is when the log said so (the list then confirms it).
    const due = [...up].filter((i) => !seen.has(i) && (!sys.upCount || sys.upCount(i) === n));
    const at = now() - t0;
    await pool(due, POLL_PARALLEL, async (i) => {
      const alive = (await sys.members(lab, i)).filter((m) => m.status === "alive").length;
      if (alive === n) seen.set(i, sys.upCount ? at : now() - t0);
    });
    if (due.length > 0) rounds.push(now() - r0);
    await sleep(sys.upCount ? WATCH_GAP_MS : POLL_GAP_MS);
  }
  await Promise.all(starts);
  const agentsCpuMs = Array.from({ length: n }, (_, k) => cpuMs(sys.pid(k + 1)))
    .reduce((a, b) => a + b, 0);
  const times = [...seen.values()];
  const udp = Array.from({ length: n }, (_, k) => udpCounters(sys.pid(k + 1)));
  return {
    allMs: Math.max(...times),
    p50Ms: quantile(times, 0.5),
    p90Ms: quantile(times, 0.9),
    slowest: [...seen].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([i, ms]) => ({
      host: lab.host(i).name,
      ms,
    })),
    udpRcvbufErrors: udp.reduce((s, u) => s + (u?.RcvbufErrors ?? 0), 0),
    udpSndbufErrors: udp.reduce((s, u) => s + (u?.SndbufErrors ?? 0), 0),
    pollRoundP50Ms: quantile(rounds, 0.5),
    pollRoundMaxMs: Math.max(0, ...rounds),
    lastAnsweringMs,
    agentsCpuMs,
  };
}

async function idle(lab: Lab, sys: System, n: number, seconds: number) {
  const before = await lab.traffic();
  const t0 = now();
  await sleep(seconds * 1000);
  const after = await lab.traffic();
  const r = [...rates(before, after, (now() - t0) / 1000).values()];
  const rss: number[] = [];
  for (let i = 1; i <= n; i++) {
    const kib = rssKiB(sys.pid(i));
    if (kib === null) {
      throw new Error(`agent on ${lab.host(i).name} (pid ${sys.pid(i)}) has exited`);
    }
    rss.push(kib / 1024);
  }
  return {
    idle: {
      seconds,
      txBytesPerSec: {
        mean: mean(r.map((x) => x.txBytes)),
        max: Math.max(...r.map((x) => x.txBytes)),
      },
      rxBytesPerSec: {
        mean: mean(r.map((x) => x.rxBytes)),
        max: Math.max(...r.map((x) => x.rxBytes)),
      },
      txPacketsPerSec: { mean: mean(r.map((x) => x.txPackets)) },
    },
    rss: { meanMiB: mean(rss), maxMiB: Math.max(...rss) },
  };
}

async function detection(lab: Lab, sys: System, n: number): Promise<Result["detection"]> {
  const victim = lab.host(n);
  const t0 = now();
  await sys.kill(n);
  const times = new Map<number, number>();
  while (times.size < n - 1) {
    if (now() - t0 > DETECTION_MS) {
      throw new Error(
        `detection: after ${DETECTION_MS} ms only ${times.size} of ${n - 1} hosts marked ` +
          `${victim.name} failed`,
      );
    }
    for (let i = 1; i < n; i++) {
      const mark = sys.failures(i).find((m) => m.addr === victim.ip && m.at >= t0);
      if (mark && !times.has(i)) times.set(i, mark.at - t0);
    }
    await sleep(POLL_GAP_MS);
  }
  // The marks are the agents' reports; their member lists must agree.
  await pool(Array.from({ length: n - 1 }, (_, k) => k + 1), POLL_PARALLEL, async (i) => {
    const m = (await sys.members(lab, i)).find((m) => m.addr === victim.ip);
    if (m?.status !== "failed") {
      throw new Error(
        `${lab.host(i).name} reported ${victim.name} failed, but lists it ${m?.status}`,
      );
    }
  });
  const xs = [...times.values()];
  return {
    victim: victim.name,
    firstMs: Math.min(...xs),
    allMs: Math.max(...xs),
    p50Ms: quantile(xs, 0.5),
  };
}

async function falseFailures(
  lab: Lab,
  sys: System,
  n: number,
  percent: number,
  minutes: number,
): Promise<Result["falseFailures"]> {
  const dead = lab.host(n).ip;
  const live = Array.from({ length: n - 1 }, (_, k) => k + 1);
  await lab.loss(percent);
  const t0 = now();
  try {
    for (let m = 1; m <= Math.ceil(minutes); m++) {
      await sleep(Math.min(1, minutes - (m - 1)) * 60_000);
      const sofar = live.flatMap((i) =>
        sys.failures(i).filter((f) => f.at >= t0 && f.addr !== dead)
      );
      log(`  loss: ${Math.min(m, minutes)} of ${minutes} min, ${sofar.length} false failure marks`);
    }
  } finally {
    await lab.loss(0);
  }
  const t1 = now();
  const marks = live.flatMap((i) =>
    sys.failures(i).filter((f) => f.at >= t0 && f.at <= t1 && f.addr !== dead).map((f) => ({
      ...f,
      i,
    }))
  );

  // Recovery: every live host lists every live member alive again.
  let recoveredMs: number | null = null;
  while (now() - t1 < RECOVERY_MS) {
    let ok = true;
    await pool(live, POLL_PARALLEL, async (i) => {
      const alive = (await sys.members(lab, i)).filter((m) => m.status === "alive").length;
      if (alive !== n - 1) ok = false;
    });
    if (ok) {
      recoveredMs = now() - t1;
      break;
    }
    await sleep(500);
  }
  return {
    lossPercent: percent,
    minutes,
    marks: marks.length,
    subjects: new Set(marks.map((m) => m.addr)).size,
    observers: new Set(marks.map((m) => m.i)).size,
    perNodeMinute: marks.length / live.length / minutes,
    recoveredMs,
  };
}

async function runOne(name: string, n: number, opts: Options): Promise<Result> {
  const result: Result = { system: name, n };
  const sys = SYSTEMS[name](opts);
  log(`## ${name}, N = ${n}`);
  const lab = await Lab.create({ hosts: n });
  const load: Record<string, number> = {};
  const phase = (name: string) => load[name] = loadavg1();
  result.load = load;
  try {
    await sys.prepare?.(lab, n);
    phase("formation");
    result.formation = await formation(lab, sys, n, opts.stagger);
    if (opts.stagger > 0) result.formation!.staggerPerSecond = opts.stagger;
    const f = result.formation!;
    log(
      `  formation: all ${n} see ${n} alive after ${f.allMs.toFixed(0)} ms (p50 host ` +
        `${f.p50Ms.toFixed(0)} ms; last agent answering at ${f.lastAnsweringMs.toFixed(0)} ms; ` +
        `agents' CPU ${(f.agentsCpuMs / n).toFixed(0)} ms each; ` +
        `UDP receive-buffer drops ${f.udpRcvbufErrors})`,
    );
    await sleep(opts.settleSeconds * 1000);
    phase("idle");
    Object.assign(result, await idle(lab, sys, n, opts.idleSeconds));
    log(`  idle: ${result.idle!.txBytesPerSec.mean.toFixed(0)} B/s sent per node`);
    const rtts = sys.rttsMs ? await sys.rttsMs(lab) : [];
    result.rtt = rtts.length > 0
      ? {
        p50Ms: quantile(rtts, 0.5),
        p99Ms: quantile(rtts, 0.99),
        pairs: rtts.length,
        source: `${name}'s own estimates`,
      }
      : null;
    phase("detection");
    result.detection = await detection(lab, sys, n);
    log(
      `  detection: all ${n - 1} mark ${result.detection!.victim} failed after ${
        result.detection!.allMs.toFixed(0)
      } ms`,
    );
    phase("loss");
    result.falseFailures = await falseFailures(lab, sys, n, opts.lossPercent, opts.lossMinutes);
  } catch (e) {
    result.error = e instanceof Error ? e.message : String(e);
    log(`  ERROR: ${result.error}`);
  } finally {
    await sys.stopAll();
    await lab.destroy();
  }
  return result;
}

interface Options {
  systems: string[];
  sizes: number[];
  lossMinutes: number;
  lossPercent: number;
  idleSeconds: number;
  settleSeconds: number;
  /** Agents started per second after h1; 0: all at once (the default). */
  stagger: number;
  /** `--herd-set KEY=VALUE`, repeatable: config for every herd agent (tuning runs). */
  herdSet: string[];
  json: boolean;
}

function options(args: string[]): Options {
  const { values } = parseArgs({
    args,
    options: {
      systems: { type: "string", default: "serf" },
      sizes: { type: "string", default: "10,50,100" },
      "loss-minutes": { type: "string", default: "5" },
      "loss-percent": { type: "string", default: "10" },
      "idle-seconds": { type: "string", default: "30" },
      "settle-seconds": { type: "string", default: "10" },
      stagger: { type: "string", default: "0" },
      "herd-set": { type: "string", multiple: true, default: [] },
      json: { type: "boolean", default: false },
    },
  });
  const num = (flag: string, v: string, ok: (x: number) => boolean) => {
    const x = Number(v);
    if (!ok(x)) throw new Error(`--${flag}: got ${v}`);
    return x;
  };
  const o: Options = {
    systems: values.systems.split(","),
    sizes: values.sizes.split(",").map((s) =>
      num("sizes", s, (x) => Number.isInteger(x) && x >= 2)
    ),
    lossMinutes: num("loss-minutes", values["loss-minutes"], (x) => x > 0),
    lossPercent: num("loss-percent", values["loss-percent"], (x) => x >= 0 && x < 100),
    idleSeconds: num("idle-seconds", values["idle-seconds"], (x) => x > 0),
    settleSeconds: num("settle-seconds", values["settle-seconds"], (x) => x >= 0),
    stagger: num("stagger", values.stagger, (x) => x >= 0),
    herdSet: values["herd-set"],
    json: values.json,
  };
  for (const s of o.systems) {
    if (!SYSTEMS[s]) throw new Error(`--systems: unknown ${s} (known: ${Object.keys(SYSTEMS)})`);
  }
  return o;
}

/** One column per run, one row per figure (markdown). */
export function table(results: Result[]): string {
  const f = (digits: number) => (x: number | undefined) =>
    x === undefined ? "–" : x.toFixed(digits);
  const [f0, f1, f2, f3] = [f(0), f(1), f(2), f(3)];
  const rows: Array<[string, (r: Result) => string]> = [
    [
      "formation: every host sees N alive, ms (p50 / p90 host)",
      (r) => `${f0(r.formation?.allMs)} (${f0(r.formation?.p50Ms)} / ${f0(r.formation?.p90Ms)})`,
    ],
    [
      "kill -9: first / p50 / every host marks it failed, ms",
      (r) =>
        r.detection
          ? `${f0(r.detection.firstMs)} / ${f0(r.detection.p50Ms)} / ${f0(r.detection.allMs)}`
          : "–",
    ],
    [
      "false failures under loss: marks (per node·min)",
      (r) =>
        r.falseFailures
          ? `${r.falseFailures.marks} (${f3(r.falseFailures.perNodeMinute)}) at ` +
            `${r.falseFailures.lossPercent} % for ${r.falseFailures.minutes} min`
          : "–",
    ],
    [
      "after the loss: all alive again, ms",
      (r) =>
        !r.falseFailures
          ? "–"
          : r.falseFailures.recoveredMs === null
          ? `> ${RECOVERY_MS}`
          : f0(r.falseFailures.recoveredMs),
    ],
    [
      "idle, per node: sent B/s mean (max), packets/s",
      (r) =>
        r.idle
          ? `${f0(r.idle.txBytesPerSec.mean)} (${f0(r.idle.txBytesPerSec.max)}), ` +
            f1(r.idle.txPacketsPerSec.mean)
          : "–",
    ],
    ["RSS per agent, MiB mean (max)", (r) => `${f1(r.rss?.meanMiB)} (${f1(r.rss?.maxMiB)})`],
    [
      "RTT estimates over all pairs, ms p50 / p99",
      (r) => r.rtt ? `${f2(r.rtt.p50Ms)} / ${f2(r.rtt.p99Ms)}` : "–",
    ],
  ];
  if (results.some((r) => r.error)) rows.push(["error", (r) => r.error?.split("\n")[0] ?? ""]);
  return [
    `| figure | ${results.map((r) => `${r.system}, N = ${r.n}`).join(" | ")} |`,
    `|---|${results.map(() => "---").join("|")}|`,
    ...rows.map(([name, cell]) => `| ${name} | ${results.map(cell).join(" | ")} |`),
  ].join("\n");
}

if (import.meta.main) {
  const opts = options(benchArgs());
  const can = await Lab.available(opts.systems.includes("serf") ? ["serf", "socat"] : []);
  if (!can.ok) {
    console.error(`membership bench: the lab cannot run here: ${can.why}`);
    Deno.exit(1);
  }
  const results: Result[] = [];
  for (const s of opts.systems) {
    for (const n of opts.sizes) results.push(await runOne(s, n, opts));
  }
  console.log(opts.json ? JSON.stringify(results, null, 2) : table(results));
  if (results.some((r) => r.error)) Deno.exit(1);
}
