// One real Swim node whose peers are scripted: they ack pings (unless silent), and
// the test sees every message the node sends. Virtual time, so nothing waits.

import type { MembershipEvent } from "../../../core/membership/events.ts";
import type { MemberMeta } from "../../../core/membership/member.ts";
import {
  aliveMsg,
  type Message,
  MessageType,
  PROTOCOL_VERSION,
} from "../../../core/membership/messages.ts";
import { seededRng } from "../../../core/membership/rng.ts";
import { Swim } from "../../../core/membership/swim.ts";
import type { MembershipTimings } from "../../../core/membership/timings.ts";
import { profileTimings } from "../../../sim/scenarios.ts";
import { VirtualScheduler } from "../../../sim/virtual_scheduler.ts";

export const addr = (id: string) => `${id}:7946`;

export interface Harness {
  swim: Swim;
  sched: VirtualScheduler;
  sent: { to: string; msg: Message }[];
  /** Addresses membership asked to connect to ahead of a message (warm). */
  warmed: string[];
  events: MembershipEvent[];
  /** Addresses that answer nothing. */
  silent: Set<string>;
  /** Relays that answer a ping request with a nack (when asked to). */
  nackers: Set<string>;
  /** Makes `ids` known and alive, at incarnation 1. */
  addMembers(ids: string[]): void;
  sentOf<T extends Message["type"]>(type: T): { to: string; msg: Extract<Message, { type: T }> }[];
  eventsOf(type: MembershipEvent["type"]): MembershipEvent[];
}

export function harness(
  opts: { timings?: Partial<MembershipTimings>; meta?: MemberMeta; seed?: number } = {},
): Harness {
  const sched = new VirtualScheduler();
  const sent: Harness["sent"] = [];
  const warmed: string[] = [];
  const events: MembershipEvent[] = [];
  const silent = new Set<string>();
  const nackers = new Set<string>();
  const timings = {
    ...profileTimings("lan"),
    // The figures the tests' arithmetic is written for (swim_test.ts: MIN, MAX), pinned
    // so that a change of the lan defaults does not rewrite every expectation.
    probeIntervalMs: 200,
    probeTimeoutMs: 100,
    suspicionUnitMs: 200,
    pushPullIntervalMs: 0,
    reconnectIntervalMs: 0,
    ...opts.timings,
  };
  const swim: Swim = new Swim({
    self: { id: "self", address: addr("self") },
    timings,
    scheduler: sched,
    rng: seededRng(opts.seed ?? 1),
    meta: opts.meta,
    send(to, msg) {
      sent.push({ to, msg });
      answer(to, msg);
    },
    warm: (to) => warmed.push(to),
    observe: (e) => events.push(e),
  });
  const answer = (to: string, msg: Message) => {
    if (silent.has(to)) return;
    const id = to.split(":")[0];
    if (msg.type === MessageType.Ping && msg.target === id) {
      sched.after(
        1,
        () =>
          swim.receive(to, { type: MessageType.Ack, v: PROTOCOL_VERSION, seq: msg.seq, from: id }),
      );
    }
    if (msg.type === MessageType.PingReq && nackers.has(to) && msg.nackAfterMs !== undefined) {
      sched.after(
        msg.nackAfterMs + 1,
        () =>
          swim.receive(to, { type: MessageType.Nack, v: PROTOCOL_VERSION, seq: msg.seq, from: id }),
      );
    }
  };
  swim.start();
  return {
    swim,
    sched,
    sent,
    warmed,
    events,
    silent,
    nackers,
    addMembers(ids) {
      for (const id of ids) {
        swim.receive(addr(id), aliveMsg({ id, address: addr(id), incarnation: 1, meta: {} }));
      }
    },
    sentOf(type) {
      return sent.filter((s) => s.msg.type === type) as never;
    },
    eventsOf(type) {
      return events.filter((e) => e.type === type);
    },
  };
}

/** Every rumor the node sent, standalone or piggybacked. */
export function rumorsSent(h: Harness): Message[] {
  return h.sent.flatMap(({ msg }) => [
    ...("gossip" in msg && msg.gossip ? msg.gossip : []),
    ...(msg.type === MessageType.Alive || msg.type === MessageType.Suspect ||
        msg.type === MessageType.Dead
      ? [msg]
      : []),
  ]);
}
