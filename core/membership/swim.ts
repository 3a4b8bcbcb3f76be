// SWIM membership with the Lifeguard refinements: the state machine. It does no
// I/O and reads no clock: messages come in through `receive`, go out through the
// injected `send`, and time is the injected scheduler — so the simulator (sim/)
// drives this same code in virtual time, and a node drives it over QUIC.
//
// State changes go through three guarded handlers, as in memberlist's state.go:
// `aliveNode`, `suspectNode`, `deadNode`. Each checks the incarnation first and
// only then acts. Observers hear about a change after it is made; they never steer.

import { HerdError } from "../errors.ts";
import { AckRegistry } from "./acks.ts";
import { Awareness } from "./awareness.ts";
import { BroadcastQueue } from "./broadcast_queue.ts";
import type { MembershipEvent, MembershipEventType } from "./events.ts";
import {
  isDeadOrLeft,
  type Member,
  type MemberEntry,
  type MemberMeta,
  type MemberSnapshot,
  MemberState,
  META_MAX_BYTES,
  metaBytes,
  sameMeta,
  snapshot,
} from "./member.ts";
import { MAX_MEMBERS, MemberTable } from "./member_table.ts";
import {
  type Ack,
  type Alive,
  aliveMsg,
  DATAGRAM_BUDGET_BYTES,
  type Dead,
  deadMsg,
  estimateBytes,
  type Message,
  MessageType,
  type Nack,
  type NodeRef,
  PIGGYBACK_BUDGET_BYTES,
  type Ping,
  type PingReq,
  PROTOCOL_VERSION,
  type PushPullRequest,
  type PushPullResponse,
  type Rumor,
  type Suspect,
  suspectMsg,
} from "./messages.ts";
import { type ProbeContext, type ProbeTarget, startProbe } from "./probe.ts";
import { pushPullRequest, pushPullResponse, pushPullScale, stateEntries } from "./push_pull.ts";
import type { Rng } from "./rng.ts";
import { newStats, type SwimStats } from "./stats.ts";
import { type Cancel, type Scheduler, TimerGroup } from "./scheduler.ts";
import { Suspicion, suspicionBounds } from "./suspicion.ts";
import type { MembershipTimings } from "./timings.ts";
import {
  estimateRttMs,
  isValidCoordinate,
  VIVALDI_DEFAULTS,
  VivaldiClient,
  type VivaldiConfig,
} from "./vivaldi.ts";

/** Rumors read from one message at most; the rest are ignored. */
export const MAX_RUMORS_PER_MESSAGE = 64;
/** Join attempts awaiting an answer at once. */
export const MAX_PENDING_JOINS = 64;
/** How often failed and left members past their retention are forgotten (Serf's reapInterval). */
export const REAP_INTERVAL_MS = 15_000;
/** Longest a relay waits on a target for someone else's probe. */
export const MAX_RELAY_WAIT_MS = 10_000;
/**
 * Extra push-pulls after a join, in gossip intervals from the seed's answer: they catch
 * news of members that joined at the same moment, which gossip (not probing) carries.
 */
export const JOIN_SYNC_AFTER = [10, 50] as const;
/** A member's coordinate older than this is asked for again in the next ping to it. */
export const COORD_REFRESH_MS = 60_000;
/** Above this error a member's coordinate is still settling: asked for in every ping. */
export const COORD_SETTLED_ERROR = 0.5;
/** Probe intervals between two push-pulls prompted by pings from unknown members. */
export const STRANGER_SYNC_EVERY = 10;

export class MembershipError extends HerdError {}

export interface SwimDeps {
  self: NodeRef;
  timings: MembershipTimings;
  scheduler: Scheduler;
  rng: Rng;
  /** Hands a message to the transport; which channel it takes is `channelOf(msg)`. */
  send(to: string, msg: Message): void;
  /** Optional: connect to `to` now, for a message that will follow (the next probe). */
  warm?(to: string): void;
  /** For observers only (see events.ts). Must not throw. */
  observe?(event: MembershipEvent): void;
  meta?: MemberMeta;
  vivaldi?: VivaldiConfig;
}

interface PendingSuspicion {
  suspicion: Suspicion;
  cancel: Cancel;
}

export class Swim {
  readonly stats: SwimStats = newStats();
  readonly #d: SwimDeps;
  readonly #t: MembershipTimings;
  readonly #self: NodeRef;
  readonly #timers: TimerGroup;
  readonly #table: MemberTable;
  readonly #queue: BroadcastQueue;
  readonly #awareness: Awareness;
  readonly #acks = new AckRegistry();
  readonly #suspicions = new Map<string, PendingSuspicion>();
  readonly #joins = new Map<number, { answered(): void; expire(): void }>();
  readonly #vivaldi: VivaldiClient;
  readonly #probeContext: ProbeContext;
  /** What rumors may fill of a gossip packet: a datagram less the packet's own fields. */
  readonly #gossipBudget: number;
  #seq = 0;
  #lastStrangerSync = -Infinity;
  #running = false;
  #leaving = false;

  constructor(deps: SwimDeps) {
    this.#d = deps;
    this.#t = deps.timings;
    this.#self = { ...deps.self };
    this.#timers = new TimerGroup(deps.scheduler);
    this.#table = new MemberTable(deps.self.id, deps.rng);
    this.#queue = new BroadcastQueue(deps.timings.retransmitMult);
    this.#awareness = new Awareness(deps.timings.awarenessMaxMultiplier);
    this.#vivaldi = new VivaldiClient(deps.vivaldi ?? VIVALDI_DEFAULTS, deps.rng);
    this.#probeContext = this.#makeProbeContext();
    this.#gossipBudget = DATAGRAM_BUDGET_BYTES -
      estimateBytes({
        type: MessageType.Gossip,
        v: PROTOCOL_VERSION,
        from: deps.self.id,
        gossip: [],
      });
    const meta = deps.meta ?? {};
    checkMeta(meta);
    this.#table.add({
      id: deps.self.id,
      address: deps.self.address,
      incarnation: 1,
      state: MemberState.Alive,
      meta: Object.freeze(meta),
      changedAt: deps.scheduler.now(),
    });
  }

  // ── public API ────────────────────────────────────────────────────────────

  get self(): NodeRef {
    return { ...this.#self };
  }

  get running(): boolean {
    return this.#running;
  }

  /** This node's incarnation. */
  get incarnation(): number {
    return this.#me().incarnation;
  }

  /** Lifeguard's local health score: 0 is healthy. */
  get health(): number {
    return this.#awareness.score;
  }

  /** Members believed up (alive or suspect), self included. */
  get live(): number {
    return this.#table.live;
  }

  count(state: MemberState): number {
    return this.#table.count(state);
  }

  member(id: string): MemberSnapshot | undefined {
    const m = this.#table.get(id);
    return m && snapshot(m);
  }

  members(): MemberSnapshot[] {
    return [...this.#table.all()].map(snapshot);
  }

  get coordinate() {
    return this.#vivaldi.coordinate;
  }

  /** Estimated round trip to a member from network coordinates, when it has sent one. */
  estimateRttMs(id: string): number | undefined {
    const coord = this.#table.get(id)?.coord;
    return coord && estimateRttMs(this.#vivaldi.coordinate, coord);
  }

  /** Estimated round trip between any two members (this node included), when both have coordinates. */
  estimateRttBetweenMs(a: string, b: string): number | undefined {
    const coord = (id: string) =>
      id === this.#self.id ? this.#vivaldi.coordinate : this.#table.get(id)?.coord;
    const ca = coord(a), cb = coord(b);
    return ca && cb ? estimateRttMs(ca, cb) : undefined;
  }

  /** Starts probing, gossip and the periodic exchanges (each at a random phase). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    const t = this.#t;
    this.#loop(() => this.#awareness.scale(t.probeIntervalMs), () => this.#probeNext());
    if (t.gossipNodes > 0) this.#loop(() => t.gossipIntervalMs, () => this.#gossip());
    if (t.pushPullIntervalMs > 0) {
      const every = () => pushPullScale(t.pushPullIntervalMs, this.#table.live);
      this.#loop(every, () => this.#pushPullRandom());
    }
    if (t.reconnectIntervalMs > 0) this.#loop(() => t.reconnectIntervalMs, () => this.#reconnect());
    this.#loop(() => REAP_INTERVAL_MS, () => this.#reap());
    this.#queue.enqueue(this.#self.id, aliveMsg(this.#me()));
  }

  /**
   * Joins through seed addresses with a push-pull each. Resolves with how many seeds
   * answered, once each has answered or timed out (membership.joinTimeout).
   */
  join(seeds: readonly string[]): Promise<number> {
    return new Promise((resolve) => {
      let answered = 0;
      let waiting = 0;
      const settle = () => --waiting === 0 && resolve(answered);
      for (const address of seeds) {
        if (!this.#running || this.#joins.size >= MAX_PENDING_JOINS) continue;
        if (address === this.#self.address) continue;
        const seq = this.#nextSeq();
        waiting++;
        const expire = () => this.#joins.delete(seq) && settle();
        const cancel = this.#timers.after(this.#t.joinTimeoutMs, expire);
        this.#joins.set(seq, {
          answered: () => {
            cancel();
            this.#joins.delete(seq);
            if (answered++ === 0) this.#scheduleJoinSyncs();
            settle();
          },
          expire,
        });
        this.#send(address, pushPullRequest(this.#self, seq, true, this.#state()));
      }
      if (waiting === 0) resolve(0);
    });
  }

  /**
   * Leaves on purpose: gossips a leave (a `dead` from ourselves), waits until it has
   * been retransmitted enough or membership.leaveTimeout passed, then stops.
   */
  leave(): Promise<void> {
    if (!this.#running || this.#leaving) return Promise.resolve();
    this.#leaving = true;
    return new Promise((resolve) => {
      let cancel: Cancel = () => {};
      let finished = false;
      const done = () => {
        if (finished) return;
        finished = true;
        cancel();
        this.stop();
        resolve();
      };
      const me = this.#me();
      this.#deadNode(deadMsg(me.id, me.incarnation, me.id), done);
      if (this.#table.live === 0) done();
      else if (!finished) cancel = this.#timers.after(this.#t.leaveTimeoutMs, done);
    });
  }

  /** Stops every timer; later messages are ignored. */
  stop(): void {
    if (!this.#running) return;
    this.#running = false;
    this.#timers.cancelAll();
    this.#suspicions.clear();
    this.#acks.clear();
    for (const join of [...this.#joins.values()]) join.expire();
    this.#queue.clear();
  }

  /**
   * New metadata for this node (its profile summary, load vector, …): gossiped as an
   * `alive` with a bumped incarnation, as memberlist's UpdateNode.
   */
  setMeta(meta: MemberMeta): void {
    checkMeta(meta);
    const me = this.#me();
    me.meta = Object.freeze(meta);
    me.incarnation++;
    this.#queue.enqueue(me.id, aliveMsg(me));
    this.#emit("NodeUpdated", me);
  }

  /** The transport's entry point: a message from `from` (the sender's address). */
  receive(_from: string, msg: Message): void {
    if (!this.#running) return;
    this.stats.received++;
    if (msg?.v !== PROTOCOL_VERSION) {
      this.stats.badVersion++;
      return;
    }
    this.#dispatch(msg);
    const rumors = "gossip" in msg ? msg.gossip : undefined;
    if (Array.isArray(rumors)) {
      for (const r of rumors.slice(0, MAX_RUMORS_PER_MESSAGE)) {
        if (r?.v === PROTOCOL_VERSION && isRumor(r)) this.#dispatch(r);
        else this.stats.badRumors++;
      }
    }
  }

  // ── dispatch: one small handler per message type ──────────────────────────

  #dispatch(msg: Message): void {
    switch (msg.type) {
      case MessageType.Ping:
        return this.#onPing(msg);
      case MessageType.PingReq:
        return this.#onPingReq(msg);
      case MessageType.Ack:
        if (!this.#acks.ack(msg)) this.stats.lateAcks++;
        return;
      case MessageType.Nack:
        this.#acks.nack(msg);
        return;
      case MessageType.Alive:
        return this.#aliveNode(msg);
      case MessageType.Suspect:
        return this.#suspectNode(msg);
      case MessageType.Dead:
        return this.#deadNode(msg);
      case MessageType.PushPullRequest:
        return this.#onPushPullRequest(msg);
      case MessageType.PushPullResponse:
        return this.#onPushPullResponse(msg);
      case MessageType.Gossip:
        return; // its rumors are read by `receive`
      default:
        this.stats.unknownType++;
    }
  }

  #onPing(p: Ping): void {
    if (p.target !== this.#self.id) {
      this.stats.misdirectedPings++;
      return;
    }
    if (!this.#table.get(p.from.id)) this.#syncWithStranger(p.from);
    const ack: Ack = {
      type: MessageType.Ack,
      v: PROTOCOL_VERSION,
      seq: p.seq,
      from: this.#self.id,
    };
    // Only when asked: a coordinate is a third of an ack, and changes slowly once settled.
    if (p.wantCoord) ack.coord = this.#vivaldi.coordinate;
    if (p.reliable) ack.reliable = true;
    this.#sendWithGossip(p.from.address, ack);
  }

  /** Relays a probe for someone else; nacks if the target stays silent. */
  #onPingReq(req: PingReq): void {
    const seq = this.#nextSeq();
    const nackAfter = Math.min(MAX_RELAY_WAIT_MS, Math.max(0, req.nackAfterMs ?? 0));
    const wait = Math.max(this.#t.probeTimeoutMs, nackAfter);
    let nack: Cancel = () => {};
    const expire = this.#timers.after(wait, () => this.#acks.forget(seq));
    const waiting = this.#acks.expect(seq, {
      onAck: () => {
        expire();
        nack();
        this.#sendWithGossip(req.from.address, this.#ackFor(req.seq, true));
      },
    });
    if (!waiting) {
      expire();
      this.stats.pingReqsRefused++;
      return;
    }
    this.#sendWithGossip(req.target.address, {
      type: MessageType.Ping,
      v: PROTOCOL_VERSION,
      seq,
      target: req.target.id,
      from: this.#self,
    });
    if (req.nackAfterMs !== undefined) {
      nack = this.#timers.after(nackAfter, () => {
        const n: Nack = {
          type: MessageType.Nack,
          v: PROTOCOL_VERSION,
          seq: req.seq,
          from: this.#self.id,
        };
        this.#sendWithGossip(req.from.address, n);
      });
    }
  }

  #onPushPullRequest(r: PushPullRequest): void {
    if (!this.#mergeState(r.members)) return;
    // Merged first, answered second: the answer already carries any refutation.
    this.#send(r.from.address, pushPullResponse(this.#self, r.seq, this.#state()));
  }

  #onPushPullResponse(r: PushPullResponse): void {
    const join = this.#joins.get(r.seq);
    this.#mergeState(r.members, join !== undefined);
    join?.answered();
  }

  // ── the guarded state changes ─────────────────────────────────────────────

  /** News that a member is alive at some incarnation. */
  #aliveNode(a: Alive): void {
    if (a.id === this.#self.id) return this.#aliveAboutSelf(a);
    const m = this.#table.get(a.id);
    if (!m) return this.#addMember(a);
    const moved = m.address !== a.address;
    if (moved && !this.#mayMove(m)) {
      this.stats.addressConflicts++;
      return;
    }
    if (a.incarnation <= m.incarnation && !moved) return;
    this.#applyAlive(m, a);
  }

  /** Someone gossips about us: if it is not exactly what we are, say so louder. */
  #aliveAboutSelf(a: Alive): void {
    if (this.#leaving) return;
    const me = this.#me();
    if (a.incarnation < me.incarnation) return;
    const same = a.incarnation === me.incarnation && a.address === me.address &&
      sameMeta(a.meta, me.meta);
    if (!same) this.#refute(a.incarnation);
  }

  #addMember(a: Alive, gossip = true): void {
    const m: Member = {
      id: a.id,
      address: a.address,
      incarnation: a.incarnation,
      state: MemberState.Alive,
      meta: a.meta,
      changedAt: this.#now(),
    };
    if (!this.#table.add(m)) {
      this.stats.membersRefused++;
      return;
    }
    if (gossip) this.#queue.enqueue(a.id, a);
    this.#emit("NodeJoined", m);
  }

  #applyAlive(m: Member, a: Alive): void {
    this.#clearSuspicion(m.id);
    const was = m.state;
    const changed = m.address !== a.address || !sameMeta(m.meta, a.meta);
    m.incarnation = a.incarnation;
    m.address = a.address;
    m.meta = a.meta;
    this.#table.setState(m, MemberState.Alive, this.#now());
    this.#queue.enqueue(m.id, a);
    if (was === MemberState.Dead || was === MemberState.Left) return this.#emit("NodeJoined", m);
    if (was === MemberState.Suspect) this.#emit("NodeAlive", m);
    if (changed) this.#emit("NodeUpdated", m);
  }

  /** A failed or left member may come back at a new address after deadNodeReclaimTime. */
  #mayMove(m: Member): boolean {
    if (m.state === MemberState.Left) return true;
    return m.state === MemberState.Dead &&
      this.#now() - m.changedAt >= this.#t.deadNodeReclaimMs;
  }

  /** An accusation: `s.from` could not reach `s.id`. */
  #suspectNode(s: Suspect): void {
    const m = this.#table.get(s.id);
    if (!m || s.incarnation < m.incarnation) return;
    const pending = this.#suspicions.get(s.id);
    if (pending) {
      // Another accuser: the timeout shrinks, and the news is worth passing on.
      if (pending.suspicion.confirm(s.from)) {
        this.#queue.enqueue(s.id, s);
        this.#arm(s.id, pending);
      }
      return;
    }
    if (m.state !== MemberState.Alive) return;
    if (m.id === this.#self.id) return this.#refute(s.incarnation);
    m.incarnation = s.incarnation;
    this.#table.setState(m, MemberState.Suspect, this.#now());
    this.#queue.enqueue(s.id, s);
    this.#startSuspicion(m, s.from);
    // The buddy system: the accused hears it directly, not only by gossip.
    if (s.from === this.#self.id) this.#d.send(m.address, s);
    this.#emit("NodeSuspect", m, s.from);
  }

  /** Declared failed (by a suspicion timeout somewhere), or left (from === id). */
  #deadNode(d: Dead, onDone?: () => void): void {
    const m = this.#table.get(d.id);
    if (!m || d.incarnation < m.incarnation) return;
    this.#clearSuspicion(d.id);
    const left = d.from === d.id;
    if (isDeadOrLeft(m)) {
      // Already gone; a leave still tells observers it was on purpose.
      if (left && m.state === MemberState.Dead) this.#markGone(m, d, MemberState.Left);
      return;
    }
    if (m.id === this.#self.id && !this.#leaving) return this.#refute(d.incarnation);
    this.#markGone(m, d, left ? MemberState.Left : MemberState.Dead, onDone);
  }

  #markGone(m: Member, d: Dead, state: MemberState, onDone?: () => void): void {
    this.#queue.enqueue(m.id, d, onDone);
    m.incarnation = d.incarnation;
    this.#table.setState(m, state, this.#now());
    if (state === MemberState.Left) this.#emit("NodeLeft", m);
    else this.#emit("NodeFailed", m, d.from);
  }

  /** We are accused: outbid the accusation's incarnation and say we are alive. */
  #refute(accused: number): void {
    const me = this.#me();
    me.incarnation = Math.max(me.incarnation, accused) + 1;
    this.#awareness.applyDelta(1);
    this.stats.refutes++;
    this.#queue.enqueue(me.id, aliveMsg(me));
  }

  #startSuspicion(m: Member, from: string): void {
    const bounds = suspicionBounds(this.#table.live, this.#t);
    const pending = { suspicion: new Suspicion(from, bounds, this.#now()), cancel: () => {} };
    this.#suspicions.set(m.id, pending);
    this.stats.suspicionsStarted++;
    this.#arm(m.id, pending);
  }

  #arm(id: string, pending: PendingSuspicion): void {
    pending.cancel();
    pending.cancel = this.#timers.after(pending.suspicion.deadline - this.#now(), () => {
      if (this.#suspicions.get(id) !== pending) return;
      const m = this.#table.get(id);
      if (m?.state === MemberState.Suspect) {
        this.#deadNode(deadMsg(id, m.incarnation, this.#self.id));
      }
    });
  }

  #clearSuspicion(id: string): void {
    const pending = this.#suspicions.get(id);
    if (!pending) return;
    pending.cancel();
    this.#suspicions.delete(id);
  }

  /**
   * A peer's full state, entry by entry through the same guarded handlers. A member the
   * peer holds failed or suspect is not taken on trust (see #verifyAccusation).
   */
  #mergeState(entries: readonly MemberEntry[], joining = false): boolean {
    if (!Array.isArray(entries) || entries.length > MAX_MEMBERS) {
      this.stats.oversizedStates++;
      return false;
    }
    for (const e of entries) {
      switch (e.state) {
        case MemberState.Alive:
          // A joiner knows least: what its seed tells it is news to nobody else, so it
          // keeps new members to itself rather than re-gossip the whole cluster.
          if (joining && !this.#table.get(e.id)) this.#addMember(aliveMsg(e), false);
          else this.#aliveNode(aliveMsg(e));
          break;
        case MemberState.Left:
          this.#deadNode(deadMsg(e.id, e.incarnation, e.id));
          break;
        case MemberState.Dead:
        case MemberState.Suspect:
          this.#verifyAccusation(e);
          break;
      }
      if (e.coord) this.#learnCoord(e);
    }
    return true;
  }

  /** Our full state for a push-pull: every member, with the coordinates we know. */
  #state(): MemberEntry[] {
    const now = this.#now();
    return stateEntries(
      this.#table.all(),
      (m) =>
        m.id === this.#self.id
          ? { coord: this.#vivaldi.coordinate, coordAge: 0 }
          : m.coord && m.coordAt !== undefined
          ? { coord: m.coord, coordAge: Math.max(0, Math.round(now - m.coordAt)) }
          : undefined,
    );
  }

  /** A coordinate from a peer's state: kept if it is newer than ours (never for self). */
  #learnCoord(e: MemberEntry): void {
    const m = this.#table.get(e.id);
    if (!m || m.id === this.#self.id || !e.coord) return;
    if (!isValidCoordinate(e.coord, this.#vivaldi.coordinate.vec.length)) return;
    const at = this.#now() - (e.coordAge ?? 0);
    if (m.coord && m.coordAt !== undefined && m.coordAt >= at) return;
    m.coord = e.coord;
    m.coordAt = at;
  }

  /**
   * A peer holds a member failed (or suspect) that we hold alive. memberlist suspects it
   * at once; after a partition heals, that turns every member of each side into a suspect
   * of its own side, and a refutation that arrives late becomes a false failure. Here we
   * check for ourselves instead: probe it now, handing it the accusation so that, if it
   * is alive, it refutes — which is what the peer needs to hear. If the probe fails, the
   * usual suspicion follows.
   */
  #verifyAccusation(e: MemberEntry): void {
    const m = this.#table.get(e.id);
    if (!m || e.incarnation < m.incarnation) return;
    if (m.id === this.#self.id) return this.#refute(e.incarnation);
    if (m.state !== MemberState.Alive) return;
    const accusation = suspectMsg(m.id, e.incarnation, this.#self.id);
    if (startProbe(this.#probeContext, m, accusation)) this.stats.probes++;
    else this.stats.probesSkipped++;
  }

  // ── periodic work ─────────────────────────────────────────────────────────

  /** Runs `body` every `period()` ms, first at a random point of the first period. */
  #loop(period: () => number, body: () => void): void {
    const tick = () => {
      if (!this.#running) return;
      body();
      if (this.#running) this.#timers.after(period(), tick);
    };
    this.#timers.after(this.#d.rng.float() * period(), tick);
  }

  #probeNext(): void {
    // Rounds of the shared clock (member_table.ts: the probe ring), so that every member
    // is probed about once per interval by somebody.
    const round = Math.floor(this.#now() / this.#t.probeIntervalMs);
    const target = this.#table.nextProbeTarget(round);
    if (!target) return;
    if (startProbe(this.#probeContext, target)) this.stats.probes++;
    else this.stats.probesSkipped++;
    // The next round's target may be a new neighbour (the ring changed): connect now, so
    // that its probe does not wait on a handshake.
    const next = this.#table.nextProbeTarget(round + 1);
    if (next && next !== target) this.#d.warm?.(next.address);
  }

  #makeProbeContext(): ProbeContext {
    return {
      self: this.#self,
      timings: this.#t,
      scheduler: this.#timers,
      awareness: this.#awareness,
      acks: this.#acks,
      nextSeq: () => this.#nextSeq(),
      send: (to, msg) => this.#sendWithGossip(to, msg),
      // Neighbours first: there are connections to them already (member_table.ts).
      relays: (target, k) =>
        this.#table.nearMembers(
          k,
          (m) => m.state === MemberState.Alive && m.id !== this.#self.id && m.id !== target.id,
        ),
      accusation: (target) => {
        const m = this.#table.get(target.id);
        return m?.state === MemberState.Suspect
          ? suspectMsg(m.id, m.incarnation, this.#self.id)
          : undefined;
      },
      measured: (target, rttMs, ack) => this.#measured(target, rttMs, ack),
      wantsCoord: (target) => {
        const m = this.#table.get(target.id);
        return m !== undefined && this.#wantsCoord(m);
      },
      failed: (target) =>
        this.#suspectNode(suspectMsg(target.id, target.incarnation, this.#self.id)),
    };
  }

  #measured(target: ProbeTarget, rttMs: number, ack: Ack): void {
    const m = this.#table.get(target.id);
    const coord = ack.coord ?? m?.coord;
    if (!m || !coord) return;
    // Every round trip counts, measured against the member's last known coordinate.
    if (this.#vivaldi.update(m.id, coord, rttMs) && ack.coord) {
      m.coord = ack.coord;
      m.coordAt = this.#now();
    }
  }

  /** Whether the next ping to `m` asks for its coordinate (missing, stale, or unsettled). */
  #wantsCoord(m: Member): boolean {
    return !m.coord || m.coordAt === undefined || m.coord.error > COORD_SETTLED_ERROR ||
      this.#now() - m.coordAt > COORD_REFRESH_MS;
  }

  /**
   * Queued rumors to a few members: the ring neighbours, whose connections are open
   * (member_table.ts), and now and then one recently failed, so that it can refute - as
   * often as picking among live and recently failed members at random would.
   */
  #gossip(): void {
    if (this.#queue.size === 0) return;
    const now = this.#now();
    const k = this.#t.gossipNodes;
    const targets = this.#table.nearMembers(k, (m) =>
      m.id !== this.#self.id &&
      (m.state === MemberState.Alive || m.state === MemberState.Suspect));
    const recentlyFailed = (m: Member) =>
      m.state === MemberState.Dead && now - m.changedAt <= this.#t.gossipToTheDeadMs;
    const failedCount = this.#table.count(MemberState.Dead);
    if (failedCount > 0) {
      const [dead] = this.#table.randomMembers(1, recentlyFailed);
      const share = failedCount / (failedCount + this.#table.live);
      if (dead && this.#d.rng.float() < k * share) {
        if (targets.length >= k) targets.pop();
        targets.push(dead);
      }
    }
    for (const m of targets) {
      const gossip = this.#queue.take(this.#gossipBudget, this.#rumorReach());
      if (gossip.length === 0) return;
      this.#d.send(m.address, {
        type: MessageType.Gossip,
        v: PROTOCOL_VERSION,
        from: this.#self.id,
        gossip,
      });
    }
  }

  /**
   * A joiner's seed may not yet know who joined at the same moment, and their news may
   * have stopped spreading before we arrived: a couple of early push-pulls with random
   * members catch up on it (and what they bring that is new is gossiped on).
   */
  #scheduleJoinSyncs(): void {
    for (const mult of JOIN_SYNC_AFTER) {
      this.#timers.after(mult * this.#t.gossipIntervalMs, () => this.#pushPullRandom());
    }
  }

  /**
   * A ping from a member we have never heard of: our views differ, and the news that
   * would have told us has stopped spreading. A push-pull with it repairs both views at
   * once (at most one such exchange per STRANGER_SYNC_EVERY probe intervals).
   */
  #syncWithStranger(from: NodeRef): void {
    const now = this.#now();
    if (now - this.#lastStrangerSync < STRANGER_SYNC_EVERY * this.#t.probeIntervalMs) return;
    this.#lastStrangerSync = now;
    this.stats.strangerSyncs++;
    this.#send(
      from.address,
      pushPullRequest(this.#self, this.#nextSeq(), false, this.#state()),
    );
  }

  #pushPullRandom(): void {
    const [peer] = this.#table.randomMembers(
      1,
      (m) => m.state === MemberState.Alive && m.id !== this.#self.id,
    );
    if (!peer) return;
    this.stats.pushPulls++;
    this.#send(
      peer.address,
      pushPullRequest(this.#self, this.#nextSeq(), false, this.#state()),
    );
  }

  /**
   * Serf's reconnect: with probability failed/live, a push-pull with one random failed
   * member — across the cluster, about one attempt per failed member per interval. This
   * is what merges the two sides of a healed partition.
   */
  #reconnect(): void {
    const failed = [...this.#table.all()].filter((m) => m.state === MemberState.Dead);
    if (failed.length === 0) return;
    if (this.#d.rng.float() > failed.length / Math.max(1, this.#table.live)) return;
    const m = failed[this.#d.rng.int(failed.length)];
    this.stats.reconnects++;
    this.#send(m.address, pushPullRequest(this.#self, this.#nextSeq(), true, this.#state()));
  }

  /** Forgets failed members after reconnectTimeout and left ones after tombstoneTimeout. */
  #reap(): void {
    const now = this.#now();
    const gone = this.#table.reap((m) =>
      now - m.changedAt >
        (m.state === MemberState.Left ? this.#t.tombstoneTimeoutMs : this.#t.reconnectTimeoutMs)
    );
    for (const id of gone) this.#vivaldi.forget(id);
  }

  // ── helpers ───────────────────────────────────────────────────────────────

  /**
   * The cluster size a rumor's retransmit limit is computed for: the members up and the
   * failed ones, as memberlist counts every node it still holds. Counting only the live
   * ones cut a failure's own rumor to 4 sends per member at 10 members (log10 of 9 live
   * rounds up to 1), and in the simulator one member in 20 runs missed it for 1.8 s.
   */
  #rumorReach(): number {
    return this.#table.live + this.#table.count(MemberState.Dead);
  }

  #me(): Member {
    return this.#table.get(this.#self.id)!;
  }

  #now(): number {
    return this.#d.scheduler.now();
  }

  #nextSeq(): number {
    this.#seq = (this.#seq + 1) % Number.MAX_SAFE_INTEGER;
    return this.#seq;
  }

  #send(to: string, msg: Message): void {
    this.#d.send(to, msg);
  }

  /** Sends a ping, ping request, ack or nack with as many queued rumors as fit. */
  #sendWithGossip(to: string, msg: Ping | PingReq | Ack | Nack): void {
    if (this.#queue.size > 0) {
      const used = msg.gossip ? estimateBytes(msg.gossip) : 0;
      const extra = this.#queue.take(PIGGYBACK_BUDGET_BYTES - used, this.#rumorReach());
      if (extra.length > 0) msg.gossip = [...(msg.gossip ?? []), ...extra];
    }
    this.#d.send(to, msg);
  }

  #ackFor(seq: number, relayed: boolean): Ack {
    const ack: Ack = { type: MessageType.Ack, v: PROTOCOL_VERSION, seq, from: this.#self.id };
    if (relayed) ack.relayed = true;
    return ack;
  }

  #emit(type: MembershipEventType, m: Member, by?: string): void {
    const observe = this.#d.observe;
    if (!observe) return;
    const at = this.#now();
    const member = snapshot(m);
    const event = (type === "NodeSuspect" || type === "NodeFailed")
      ? { type, at, member, by: by ?? "" }
      : { type, at, member };
    observe(event as MembershipEvent);
  }
}

const isRumor = (r: Message): r is Rumor =>
  r.type === MessageType.Alive || r.type === MessageType.Suspect || r.type === MessageType.Dead;

function checkMeta(meta: MemberMeta): void {
  const size = metaBytes(meta);
  if (size > META_MAX_BYTES) {
    throw new MembershipError(
      `member metadata must be at most ${META_MAX_BYTES} bytes as JSON: got ${size}`,
    );
  }
}

export type { SwimStats };
