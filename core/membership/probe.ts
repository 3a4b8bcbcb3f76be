// One probe round (SWIM's failure detector, with Lifeguard's nacks): a direct ping;
// if no ack within the probe timeout, ping requests to k relays and a fallback ping
// over a reliable stream; if still no ack by the end of the probe interval, the
// target is reported failed. Both waits are scaled by local health. The round's
// outcome moves local health: −1 for an ack, +1 per missing nack otherwise.

import type { AckRegistry } from "./acks.ts";
import type { Awareness } from "./awareness.ts";
import type { Member } from "./member.ts";
import {
  type Ack,
  MessageType,
  type NodeRef,
  type Ping,
  type PingReq,
  PROTOCOL_VERSION,
  type Suspect,
} from "./messages.ts";
import type { Cancel, Scheduler } from "./scheduler.ts";
import type { MembershipTimings } from "./timings.ts";

/**
 * Share of the origin's remaining wait after which a relay sends its nack: the rest is
 * for the nack to travel back (Lifeguard's footnote 5; Apple's swift-cluster-membership
 * uses the same 80 %).
 */
export const NACK_FRACTION = 0.8;

/** The target as it was when the round started. */
export interface ProbeTarget {
  id: string;
  address: string;
  incarnation: number;
}

export interface ProbeContext {
  readonly self: NodeRef;
  readonly timings: MembershipTimings;
  readonly scheduler: Scheduler;
  readonly awareness: Awareness;
  readonly acks: AckRegistry;
  nextSeq(): number;
  /** Sends, adding piggybacked rumors. */
  send(to: string, msg: Ping | PingReq): void;
  /** Up to k live members, other than self and the target, to relay a probe. */
  relays(target: ProbeTarget, k: number): Member[];
  /** An accusation to hand the target so it can refute at once (the buddy system). */
  accusation(target: ProbeTarget): Suspect | undefined;
  /** Whether to ask the target for its coordinate (our copy is missing or stale). */
  wantsCoord(target: ProbeTarget): boolean;
  /** A direct ack came back after `rttMs`. */
  measured(target: ProbeTarget, rttMs: number, ack: Ack): void;
  /** No ack by the deadline. */
  failed(target: ProbeTarget): void;
}

interface Round {
  done: boolean;
  relays: number;
  nackers: Set<string>;
  timers: Cancel[];
}

/**
 * Starts a round; false when it could not (too many acks already awaited). The ping
 * carries `accusation`, or the target's current suspicion (ctx.accusation).
 */
export function startProbe(ctx: ProbeContext, member: Member, accusation?: Suspect): boolean {
  const target: ProbeTarget = {
    id: member.id,
    address: member.address,
    incarnation: member.incarnation,
  };
  const interval = ctx.awareness.scale(ctx.timings.probeIntervalMs);
  const timeout = ctx.awareness.scale(ctx.timings.probeTimeoutMs);
  const seq = ctx.nextSeq();
  const sentAt = ctx.scheduler.now();
  const round: Round = { done: false, relays: 0, nackers: new Set(), timers: [] };

  const end = (acked: boolean) => {
    if (round.done) return;
    round.done = true;
    for (const cancel of round.timers) cancel();
    ctx.acks.forget(seq);
    ctx.awareness.applyDelta(acked ? -1 : missedNacks(round));
    if (!acked) ctx.failed(target);
  };
  const waiting = ctx.acks.expect(seq, {
    onAck(ack) {
      if (ack.from === target.id && !ack.relayed && !ack.reliable) {
        ctx.measured(target, ctx.scheduler.now() - sentAt, ack);
      }
      end(true);
    },
    onNack(nack) {
      round.nackers.add(nack.from);
    },
  });
  if (!waiting) return false;

  const first = ping(ctx.self, target, seq, accusation ?? ctx.accusation(target));
  if (ctx.wantsCoord(target)) first.wantCoord = true;
  ctx.send(target.address, first);
  round.timers.push(ctx.scheduler.after(timeout, () => {
    if (!round.done) round.relays = askRelays(ctx, target, seq, interval - timeout);
  }));
  round.timers.push(ctx.scheduler.after(interval, () => end(false)));
  return true;
}

/** Lifeguard: each relay that did not nack hints that we, not the target, are slow. */
function missedNacks(r: Round): number {
  return r.relays > 0 ? Math.max(0, r.relays - r.nackers.size) : 1;
}

function askRelays(ctx: ProbeContext, target: ProbeTarget, seq: number, windowMs: number): number {
  const relays = ctx.relays(target, ctx.timings.indirectChecks);
  const nackAfterMs = Math.floor(windowMs * NACK_FRACTION);
  for (const relay of relays) {
    ctx.send(relay.address, {
      type: MessageType.PingReq,
      v: PROTOCOL_VERSION,
      seq,
      target: { id: target.id, address: target.address },
      from: ctx.self,
      nackAfterMs,
    });
  }
  if (ctx.timings.fallbackPing) {
    ctx.send(target.address, { ...ping(ctx.self, target, seq), reliable: true });
  }
  return relays.length;
}

function ping(self: NodeRef, target: ProbeTarget, seq: number, accusation?: Suspect): Ping {
  const p: Ping = {
    type: MessageType.Ping,
    v: PROTOCOL_VERSION,
    seq,
    target: target.id,
    from: self,
  };
  if (accusation) p.gossip = [accusation];
  return p;
}
