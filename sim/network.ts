// An in-memory network in virtual time, the simulator's stand-in for QUIC: the
// same `send(to, msg)` the protocol will get from the real transport, with loss,
// delay and partitions. Datagrams are lost with the link's loss probability;
// stream messages (push-pull, the fallback ping) are reliable, as a QUIC stream
// is, but each lost attempt costs a retransmission timeout. Partitions drop
// everything. Counts messages and bytes (JSON length) per node.

import { channelOf, estimateBytes, type Message } from "../core/membership/messages.ts";
import type { Rng } from "../core/membership/rng.ts";
import type { VirtualScheduler } from "./virtual_scheduler.ts";

export interface NetworkOptions {
  /** Loss probability of every link, 0..1. */
  loss: number;
  /** Fixed part of the one-way delay, ms. */
  baseDelayMs: number;
  /** Nodes sit at random points of a square this many ms across; distance adds delay. */
  spreadMs: number;
  /** Random extra delay, as a share of the link's delay (uniform 0..jitter). */
  jitter: number;
}

export const LAN_NETWORK: NetworkOptions = { loss: 0, baseDelayMs: 0.2, spreadMs: 2, jitter: 0.2 };

/** A stream gives up (the connection fails) after this many lost attempts. */
export const MAX_STREAM_ATTEMPTS = 8;
/** QUIC's minimum retransmission wait beyond the round trip (max_ack_delay), ms. */
const STREAM_RTO_FLOOR_MS = 25;

export interface Traffic {
  sentMsgs: number;
  sentBytes: number;
  receivedMsgs: number;
  receivedBytes: number;
  dropped: number;
}

type Deliver = (from: string, msg: Message) => void;

interface Host {
  deliver: Deliver;
  x: number;
  y: number;
  traffic: Traffic;
}

const emptyTraffic = (): Traffic => ({
  sentMsgs: 0,
  sentBytes: 0,
  receivedMsgs: 0,
  receivedBytes: 0,
  dropped: 0,
});

export class SimNetwork {
  readonly options: NetworkOptions;
  readonly #hosts = new Map<string, Host>();
  readonly #down = new Set<string>();
  readonly #linkLoss = new Map<string, number>();
  readonly #blocked = new Set<string>();
  /** Partition group of an address; addresses in different groups cannot talk. */
  #group = new Map<string, number>();

  constructor(
    readonly scheduler: VirtualScheduler,
    readonly rng: Rng,
    options: Partial<NetworkOptions> = {},
  ) {
    this.options = { ...LAN_NETWORK, ...options };
  }

  /** Plugs a host in (or back in, keeping its place and counters). */
  attach(address: string, deliver: Deliver): void {
    const old = this.#hosts.get(address);
    const spread = this.options.spreadMs;
    this.#hosts.set(address, {
      deliver,
      x: old?.x ?? this.rng.float() * spread,
      y: old?.y ?? this.rng.float() * spread,
      traffic: old?.traffic ?? emptyTraffic(),
    });
    this.#down.delete(address);
  }

  /** Unplugs a host: nothing reaches it or leaves it until it is attached again. */
  detach(address: string): void {
    this.#down.add(address);
  }

  setLoss(loss: number): void {
    this.options.loss = loss;
  }

  setLinkLoss(a: string, b: string, loss: number): void {
    this.#linkLoss.set(pairKey(a, b), loss);
  }

  block(a: string, b: string): void {
    this.#blocked.add(pairKey(a, b));
  }

  /** Splits the network: each group talks only within itself; unlisted hosts talk to all. */
  partition(groups: readonly (readonly string[])[]): void {
    this.#group = new Map();
    groups.forEach((g, i) => g.forEach((a) => this.#group.set(a, i)));
  }

  heal(): void {
    this.#group = new Map();
    this.#blocked.clear();
  }

  canTalk(a: string, b: string): boolean {
    const ga = this.#group.get(a);
    const gb = this.#group.get(b);
    if (ga !== undefined && gb !== undefined && ga !== gb) return false;
    return this.#blocked.size === 0 || !this.#blocked.has(pairKey(a, b));
  }

  /** One-way delay between two hosts, without jitter, ms. */
  delayMs(a: string, b: string): number {
    const ha = this.#hosts.get(a);
    const hb = this.#hosts.get(b);
    if (!ha || !hb) return this.options.baseDelayMs;
    return this.options.baseDelayMs + Math.hypot(ha.x - hb.x, ha.y - hb.y);
  }

  traffic(address: string): Traffic {
    return { ...(this.#hosts.get(address)?.traffic ?? emptyTraffic()) };
  }

  totalTraffic(): Traffic {
    const sum = emptyTraffic();
    for (const h of this.#hosts.values()) {
      for (const k of Object.keys(sum) as (keyof Traffic)[]) sum[k] += h.traffic[k];
    }
    return sum;
  }

  /** What the protocol's `send` becomes for the host at `from`. */
  sender(from: string): (to: string, msg: Message) => void {
    return (to, msg) => this.send(from, to, msg);
  }

  send(from: string, to: string, msg: Message): void {
    const src = this.#hosts.get(from);
    if (!src || this.#down.has(from)) return;
    const bytes = estimateBytes(msg);
    src.traffic.sentMsgs++;
    src.traffic.sentBytes += bytes;
    const delay = this.#transit(from, to, channelOf(msg) === "stream");
    if (delay === undefined) {
      src.traffic.dropped++;
      return;
    }
    this.scheduler.after(delay, () => {
      const dst = this.#hosts.get(to);
      if (!dst || this.#down.has(to) || this.#down.has(from) || !this.canTalk(from, to)) return;
      dst.traffic.receivedMsgs++;
      dst.traffic.receivedBytes += bytes;
      dst.deliver(from, msg);
    });
  }

  /** The delay this message will take, or undefined if it is lost. */
  #transit(from: string, to: string, reliable: boolean): number | undefined {
    if (!this.#hosts.has(to) || !this.canTalk(from, to)) return undefined;
    const loss = this.#linkLoss.get(pairKey(from, to)) ?? this.options.loss;
    const oneWay = this.delayMs(from, to);
    const once = () => oneWay * (1 + this.rng.float() * this.options.jitter);
    if (!reliable) return this.rng.float() < loss ? undefined : once();
    let delay = 0;
    for (let attempt = 0; attempt < MAX_STREAM_ATTEMPTS; attempt++) {
      if (this.rng.float() >= loss) return delay + once();
      delay += 2 * oneWay + STREAM_RTO_FLOOR_MS;
    }
    return undefined;
  }
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}
