// N members of the real protocol (core/membership/swim.ts) over the simulated
// network, in virtual time. The cluster also keeps the ground truth — who is
// really down, who is cut off from whom — so a scenario can tell a detected
// failure from a false one.

import type { MembershipEvent } from "../core/membership/events.ts";
import type { MemberMeta } from "../core/membership/member.ts";
import { MemberState } from "../core/membership/member.ts";
import { type Rng, seededRng } from "../core/membership/rng.ts";
import { Swim } from "../core/membership/swim.ts";
import type { MembershipTimings } from "../core/membership/timings.ts";
import { type NetworkOptions, SimNetwork } from "./network.ts";
import { VirtualScheduler } from "./virtual_scheduler.ts";

export interface ClusterOptions {
  nodes: number;
  seed: number;
  timings: MembershipTimings;
  network?: Partial<NetworkOptions>;
  /** Each node's metadata; a small profile summary by default. */
  meta?: (index: number) => MemberMeta;
}

export interface SimNode {
  readonly index: number;
  readonly id: string;
  readonly address: string;
  /** Undefined before it starts and after it is killed. */
  swim?: Swim;
}

export type EventListener = (observer: SimNode, event: MembershipEvent) => void;

export const nodeId = (i: number): string => `n${String(i).padStart(4, "0")}`;
export const nodeAddress = (i: number): string => `10.${(i >> 8) & 255}.${i & 255}.1:7946`;

export function defaultMeta(i: number): MemberMeta {
  const classes = ["Workstation", "DataCenter", "Laptop", "Edge"];
  return {
    class: classes[i % classes.length],
    cpus: 4 << (i % 4),
    memGiB: 8 << (i % 3),
    labels: { zone: `z${i % 3}` },
    load: { v: 1, cpu: 0.25, mem: 0.5 },
  };
}

export class SimCluster {
  readonly scheduler = new VirtualScheduler();
  readonly network: SimNetwork;
  readonly nodes: SimNode[];
  readonly #opts: ClusterOptions;
  readonly #rng: Rng;
  readonly #listeners: EventListener[] = [];
  #traceHash = 0x811c9dc5;
  #traceLength = 0;
  #starts = 0;

  constructor(opts: ClusterOptions) {
    this.#opts = opts;
    this.#rng = seededRng(opts.seed);
    this.network = new SimNetwork(this.scheduler, seededRng(opts.seed ^ 0x5eed), opts.network);
    this.nodes = Array.from({ length: opts.nodes }, (_, i) => ({
      index: i,
      id: nodeId(i),
      address: nodeAddress(i),
    }));
  }

  get timings(): MembershipTimings {
    return this.#opts.timings;
  }

  /** FNV-1a over every event observed so far: equal runs give equal hashes. */
  get traceHash(): string {
    return (this.#traceHash >>> 0).toString(16).padStart(8, "0");
  }

  get traceLength(): number {
    return this.#traceLength;
  }

  onEvent(listener: EventListener): void {
    this.#listeners.push(listener);
  }

  byId(id: string): SimNode | undefined {
    const i = Number(id.slice(1));
    return this.nodes[i]?.id === id ? this.nodes[i] : undefined;
  }

  running(): SimNode[] {
    return this.nodes.filter((n) => n.swim?.running);
  }

  /** Starts node i (fresh state, as after a restart) and joins it through `seeds`. */
  start(i: number, seeds: readonly string[] = []): void {
    const node = this.nodes[i];
    node.swim?.stop();
    const swim = new Swim({
      self: { id: node.id, address: node.address },
      timings: this.#opts.timings,
      scheduler: this.scheduler,
      rng: seededRng(this.#opts.seed * 100_003 + i * 7_919 + 104_729 * this.#starts++),
      send: this.network.sender(node.address),
      observe: (e) => this.#observed(node, e),
      meta: (this.#opts.meta ?? defaultMeta)(i),
    });
    node.swim = swim;
    this.network.attach(node.address, (from, msg) => swim.receive(from, msg));
    swim.start();
    if (seeds.length > 0) void swim.join(seeds);
  }

  /**
   * Starts every node within `windowMs`: node 0 first, each later one joining through
   * a random node that started before it (as discovery would find one).
   */
  startAll(windowMs = 1_000): void {
    const at = this.nodes.map((_, i) => (i === 0 ? 0 : this.#rng.float() * windowMs));
    const order = this.nodes.map((_, i) => i).sort((a, b) => at[a] - at[b] || a - b);
    order.forEach((i, k) => {
      const seed = k === 0 ? undefined : this.nodes[order[this.#rng.int(k)]].address;
      this.scheduler.after(at[i], () => this.start(i, seed ? [seed] : []));
    });
  }

  /** A crash: the node stops sending, receiving and running timers, without a word. */
  kill(i: number): void {
    const node = this.nodes[i];
    this.network.detach(node.address);
    node.swim?.stop();
    node.swim = undefined;
  }

  /** A restart with empty state (incarnation 1), joining through a random running node. */
  restart(i: number): void {
    const others = this.running().filter((n) => n.index !== i);
    const seed = others[this.#rng.int(others.length)];
    this.start(i, seed ? [seed.address] : []);
  }

  /** Splits into groups of node indexes; each group talks only within itself. */
  partition(groups: readonly (readonly number[])[]): void {
    this.network.partition(groups.map((g) => g.map((i) => this.nodes[i].address)));
  }

  heal(): void {
    this.network.heal();
  }

  /** Every running node sees exactly the running nodes alive, and nothing else up. */
  converged(): boolean {
    const up = this.running();
    return up.every((n) =>
      n.swim!.count(MemberState.Alive) === up.length && n.swim!.count(MemberState.Suspect) === 0
    );
  }

  /** Whether `observer` sees member `id` in `state`. */
  sees(observer: SimNode, id: string, state: MemberState): boolean {
    return observer.swim?.member(id)?.state === state;
  }

  #observed(node: SimNode, e: MembershipEvent): void {
    this.#traceLength++;
    const line = `${e.at}|${node.id}|${e.type}|${e.member.id}|${e.member.incarnation}`;
    let h = this.#traceHash;
    for (let i = 0; i < line.length; i++) {
      h ^= line.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    this.#traceHash = h;
    for (const l of this.#listeners) l(node, e);
  }
}
