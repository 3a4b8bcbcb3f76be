// The membership settings of a resolved configuration, as one typed object.

import type { HerdConfig } from "../config.ts";
import { ConfigError } from "../errors.ts";

export interface MembershipTimings {
  probeIntervalMs: number;
  probeTimeoutMs: number;
  indirectChecks: number;
  fallbackPing: boolean;
  suspicionMult: number;
  suspicionUnitMs: number;
  suspicionMaxTimeoutMult: number;
  retransmitMult: number;
  gossipIntervalMs: number;
  gossipNodes: number;
  gossipToTheDeadMs: number;
  /** 0: no periodic push-pull. */
  pushPullIntervalMs: number;
  awarenessMaxMultiplier: number;
  deadNodeReclaimMs: number;
  /** 0: no reconnect attempts. */
  reconnectIntervalMs: number;
  reconnectTimeoutMs: number;
  tombstoneTimeoutMs: number;
  leaveTimeoutMs: number;
  joinTimeoutMs: number;
}

/** Picks the `membership.*` settings out of `c`, checking how they relate. */
export function membershipTimings(c: HerdConfig): MembershipTimings {
  const t: MembershipTimings = {
    probeIntervalMs: c["membership.probeInterval"],
    probeTimeoutMs: c["membership.probeTimeout"],
    indirectChecks: c["membership.indirectChecks"],
    fallbackPing: c["membership.fallbackPing"],
    suspicionMult: c["membership.suspicionMult"],
    suspicionUnitMs: c["membership.suspicionUnit"],
    suspicionMaxTimeoutMult: c["membership.suspicionMaxTimeoutMult"],
    retransmitMult: c["membership.retransmitMult"],
    gossipIntervalMs: c["membership.gossipInterval"],
    gossipNodes: c["membership.gossipNodes"],
    gossipToTheDeadMs: c["membership.gossipToTheDead"],
    pushPullIntervalMs: c["membership.pushPullInterval"],
    awarenessMaxMultiplier: c["membership.awarenessMaxMultiplier"],
    deadNodeReclaimMs: c["membership.deadNodeReclaimTime"],
    reconnectIntervalMs: c["membership.reconnectInterval"],
    reconnectTimeoutMs: c["membership.reconnectTimeout"],
    tombstoneTimeoutMs: c["membership.tombstoneTimeout"],
    leaveTimeoutMs: c["membership.leaveTimeout"],
    joinTimeoutMs: c["membership.joinTimeout"],
  };
  checkTimings(t);
  return t;
}

/** Relations a single setting's min/max cannot express. */
export function checkTimings(t: MembershipTimings): void {
  if (t.probeTimeoutMs >= t.probeIntervalMs) {
    // memberlist issue #149: a timeout past the interval leaves no time for indirect probes.
    throw new ConfigError(
      `'membership.probeTimeout' must be below 'membership.probeInterval': got ${t.probeTimeoutMs} ms >= ${t.probeIntervalMs} ms`,
    );
  }
}
