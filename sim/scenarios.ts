// The scenarios the CLI (sim/run.ts) and the tests (tests/sim/) run, each returning
// its figures. Times are simulated milliseconds; `wallMs` is what the run cost.

import { resolveConfig } from "../core/config.ts";
import { MemberState } from "../core/membership/member.ts";
import { pushPullScale } from "../core/membership/push_pull.ts";
import { type MembershipTimings, membershipTimings } from "../core/membership/timings.ts";
import { SimCluster, type SimNode } from "./cluster.ts";
import type { NetworkOptions, Traffic } from "./network.ts";

export const SCENARIOS = ["converge", "kill", "loss", "partition"] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface ScenarioOptions {
  nodes: number;
  seed: number;
  /** Loss on every link (for `loss`: from the end of convergence on). */
  loss: number;
  /**
   * Length of the main phase: the steady state before the kill (converge, kill; traffic is
   * measured over its last push-pull period), the lossy run (loss), the split (partition).
   */
  minutes: number;
  timings: MembershipTimings;
  network?: Partial<NetworkOptions>;
}

export interface Figures {
  scenario: ScenarioName;
  nodes: number;
  seed: number;
  loss: number;
  /** From the first start until every node sees all nodes alive. */
  convergeMs?: number;
  /** From the kill until the first node marks the victim failed. */
  detectFirstMs?: number;
  /** From the kill until every live node marks it failed. */
  detectAllMs?: number;
  /** From the split until each side marks every member of the other failed. */
  partitionDetectMs?: number;
  /** From the heal until every node sees all nodes alive again. */
  healMs?: number;
  /** Members marked failed that were up and reachable from the one that marked them. */
  falseFailures: number;
  /** Suspicions started, over all nodes. */
  suspicions: number;
  /** Times a node had to refute a suspicion of itself. */
  refutes: number;
  /** Messages and bytes (JSON length) sent per node per second over `measuredMs`. */
  msgsPerNodeSec: number;
  bytesPerNodeSec: number;
  measuredMs: number;
  simulatedMs: number;
  events: number;
  wallMs: number;
  traceHash: string;
}

/** The membership timings of a named profile (defaults + its overrides). */
export function profileTimings(profile: "lan" | "wan" | "local" = "lan"): MembershipTimings {
  return membershipTimings(resolveConfig({ env: {}, profileFlag: profile }).values);
}

/**
 * The documented bound (docs/membership.md) on the time until every live member has
 * marked a crashed one failed: up to two probe intervals before its round's prober
 * reaches it (the shared probe ring), that probe's round, the shortest suspicion or the
 * next round's confirming probe (up to two intervals), whichever is later, and two
 * gossip rounds to spread the verdict:  3·P + max(min, 2·P) + 2·G.
 */
export function detectionBoundMs(n: number, t: MembershipTimings): number {
  const p = t.probeIntervalMs, g = t.gossipIntervalMs;
  const min = t.suspicionMult * Math.max(1, Math.log10(n)) * t.suspicionUnitMs;
  return 3 * p + Math.max(min, 2 * p) + 2 * g;
}

/** Longest a scenario waits for something to happen, simulated. */
const CONVERGE_LIMIT_MS = 600_000;
const DETECT_LIMIT_MS = 120_000;
/** Half the cluster failing at once is the slowest news to spread (and Lifeguard slows down). */
const SPLIT_LIMIT_MS = 600_000;

export function runScenario(name: ScenarioName, opts: ScenarioOptions): Figures {
  switch (name) {
    case "converge":
      return converge(opts);
    case "kill":
      return kill(opts);
    case "loss":
      return loss(opts);
    case "partition":
      return partition(opts);
  }
}

/** Counts failures of members that were up and reachable from the observer. */
class FalseFailures {
  count = 0;
  readonly #down = new Set<string>();

  constructor(readonly cluster: SimCluster) {
    cluster.onEvent((observer, e) => {
      if (e.type !== "NodeFailed" || this.#down.has(e.member.id)) return;
      const subject = cluster.byId(e.member.id);
      if (subject && cluster.network.canTalk(observer.address, subject.address)) this.count++;
    });
  }

  expectDown(id: string): void {
    this.#down.add(id);
  }
}

class Measure {
  readonly #t0: number;
  readonly #traffic0: Traffic;

  constructor(readonly cluster: SimCluster) {
    this.#t0 = cluster.scheduler.now();
    this.#traffic0 = cluster.network.totalTraffic();
  }

  rates(): { msgsPerNodeSec: number; bytesPerNodeSec: number; measuredMs: number } {
    const ms = this.cluster.scheduler.now() - this.#t0;
    const t = this.cluster.network.totalTraffic();
    const per = this.cluster.nodes.length * (ms / 1000) || 1;
    return {
      msgsPerNodeSec: (t.sentMsgs - this.#traffic0.sentMsgs) / per,
      bytesPerNodeSec: (t.sentBytes - this.#traffic0.sentBytes) / per,
      measuredMs: ms,
    };
  }
}

function setUp(opts: ScenarioOptions, lossFromStart: boolean) {
  const wall = performance.now();
  const cluster = new SimCluster({
    nodes: opts.nodes,
    seed: opts.seed,
    timings: opts.timings,
    network: { ...opts.network, loss: lossFromStart ? opts.loss : 0 },
  });
  const falseFailures = new FalseFailures(cluster);
  cluster.startAll();
  const all = () => cluster.running().length === opts.nodes && cluster.converged();
  const convergeMs = cluster.scheduler.runUntil(all, CONVERGE_LIMIT_MS, 100);
  return { wall, cluster, falseFailures, convergeMs };
}

function finish(
  name: ScenarioName,
  opts: ScenarioOptions,
  s: ReturnType<typeof setUp>,
  measure: Measure,
  extra: Partial<Figures>,
): Figures {
  let refutes = 0;
  let suspicions = 0;
  for (const n of s.cluster.nodes) {
    refutes += n.swim?.stats.refutes ?? 0;
    suspicions += n.swim?.stats.suspicionsStarted ?? 0;
  }
  return {
    scenario: name,
    nodes: opts.nodes,
    seed: opts.seed,
    loss: opts.loss,
    convergeMs: s.convergeMs,
    falseFailures: s.falseFailures.count,
    suspicions,
    refutes,
    ...measure.rates(),
    simulatedMs: s.cluster.scheduler.now(),
    events: s.cluster.scheduler.events,
    wallMs: Math.round(performance.now() - s.wall),
    traceHash: s.cluster.traceHash,
    ...extra,
  };
}

/**
 * Traffic is measured over the end of a steady phase, after the join's backlog of rumors
 * has drained: over one push-pull period (so each node's exchange is counted once), and
 * at least a minute.
 */
function measuredTailMs(cluster: SimCluster): number {
  return Math.max(60_000, pushPullScale(cluster.timings.pushPullIntervalMs, cluster.nodes.length));
}

/** Runs `ms` of steady state; returns the measure of its tail. */
function steady(cluster: SimCluster, ms: number): Measure {
  const tail = Math.min(ms, measuredTailMs(cluster));
  cluster.scheduler.runFor(ms - tail);
  const measure = new Measure(cluster);
  cluster.scheduler.runFor(tail);
  return measure;
}

/** N nodes join within a second; then `minutes` of steady state (the last one measured). */
function converge(opts: ScenarioOptions): Figures {
  const s = setUp(opts, true);
  const measure = steady(s.cluster, opts.minutes * 60_000);
  return finish("converge", opts, s, measure, {});
}

/** After convergence and `minutes` of steady state (the last one measured), a node crashes. */
function kill(opts: ScenarioOptions): Figures {
  const s = setUp(opts, true);
  const { cluster } = s;
  const measure = steady(cluster, opts.minutes * 60_000);
  const rates = measure.rates();
  const victim = cluster.nodes[Math.floor(cluster.nodes.length / 2)];
  const { first, all } = detectKill(cluster, victim, s.falseFailures);
  return finish("kill", opts, s, measure, { detectFirstMs: first, detectAllMs: all, ...rates });
}

/** Kills `victim` now; returns how long until the first and until every live node saw it. */
export function detectKill(
  cluster: SimCluster,
  victim: SimNode,
  falseFailures?: { expectDown(id: string): void },
): { first?: number; all?: number } {
  const killedAt = cluster.scheduler.now();
  let first: number | undefined;
  cluster.onEvent((_, e) => {
    if (e.type === "NodeFailed" && e.member.id === victim.id && first === undefined) {
      first = e.at - killedAt;
    }
  });
  falseFailures?.expectDown(victim.id);
  cluster.kill(victim.index);
  const seen = () => cluster.running().every((n) => cluster.sees(n, victim.id, MemberState.Dead));
  const all = cluster.scheduler.runUntil(seen, DETECT_LIMIT_MS, 10);
  return { first, all };
}

/** After convergence, every link loses `loss` of its datagrams for `minutes`. */
function loss(opts: ScenarioOptions): Figures {
  const s = setUp(opts, false);
  s.cluster.network.setLoss(opts.loss);
  const measure = new Measure(s.cluster);
  s.cluster.scheduler.runFor(opts.minutes * 60_000);
  return finish("loss", opts, s, measure, {});
}

/** Splits the cluster in halves for `minutes` (at least 1), then heals it. */
function partition(opts: ScenarioOptions): Figures {
  const s = setUp(opts, true);
  const { cluster } = s;
  const measure = new Measure(cluster);
  const half = Math.floor(opts.nodes / 2);
  const a = cluster.nodes.slice(0, half);
  const b = cluster.nodes.slice(half);
  cluster.partition([a.map((n) => n.index), b.map((n) => n.index)]);
  const split = () =>
    a.every((x) => b.every((y) => cluster.sees(x, y.id, MemberState.Dead))) &&
    b.every((y) => a.every((x) => cluster.sees(y, x.id, MemberState.Dead)));
  const partitionDetectMs = cluster.scheduler.runUntil(split, SPLIT_LIMIT_MS, 100);
  cluster.scheduler.runFor(Math.max(1, opts.minutes) * 60_000);
  cluster.heal();
  const healMs = cluster.scheduler.runUntil(() => cluster.converged(), CONVERGE_LIMIT_MS, 100);
  return finish("partition", opts, s, measure, { partitionDetectMs, healMs });
}
