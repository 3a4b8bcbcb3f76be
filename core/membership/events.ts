// What membership tells observers (metrics, /v1/events, `herd nodes --watch`, the job
// owners). Observers never steer the protocol: events are emitted after the state
// has changed, and nothing an observer does feeds back into it.

import type { MemberSnapshot } from "./member.ts";

export type MembershipEvent =
  /** A member is new to us, or came back after failing or leaving. */
  | { type: "NodeJoined"; at: number; member: MemberSnapshot }
  /** A member's metadata or address changed while it stayed up. */
  | { type: "NodeUpdated"; at: number; member: MemberSnapshot }
  /** Someone (`by`) could not reach it; it has until the suspicion times out to refute. */
  | { type: "NodeSuspect"; at: number; member: MemberSnapshot; by: string }
  /** A suspect member refuted the suspicion. */
  | { type: "NodeAlive"; at: number; member: MemberSnapshot }
  /** Declared failed (by `by`, when the suspicion timed out there). */
  | { type: "NodeFailed"; at: number; member: MemberSnapshot; by: string }
  /** Left on purpose. */
  | { type: "NodeLeft"; at: number; member: MemberSnapshot };

export type MembershipEventType = MembershipEvent["type"];
