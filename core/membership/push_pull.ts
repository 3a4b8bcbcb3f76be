// Push-pull (anti-entropy): two members exchange their full member lists. What is
// sent, and how often; merging is the state machine's (swim.ts).
//
// The entries also carry the network coordinates the sender knows, each with its age:
// a member pings only its ring neighbours (member_table.ts), so the coordinates of the
// others reach it this way - which is what makes an RTT estimate between any two
// members possible. An age, not a time: the two clocks need not agree.

import { entryOf, type Member, type MemberEntry } from "./member.ts";
import {
  MessageType,
  type NodeRef,
  PROTOCOL_VERSION,
  type PushPullRequest,
  type PushPullResponse,
} from "./messages.ts";

/** Push-pull is not slowed down below this many members (memberlist's pushPullScaleThreshold). */
export const PUSH_PULL_SCALE_THRESHOLD = 32;

/** memberlist's pushPullScale: one more interval per doubling past the threshold. */
export function pushPullScale(intervalMs: number, n: number): number {
  if (n <= PUSH_PULL_SCALE_THRESHOLD) return intervalMs;
  const mult = Math.ceil(Math.log2(n) - Math.log2(PUSH_PULL_SCALE_THRESHOLD)) + 1;
  return mult * intervalMs;
}

/** What a member's coordinate is, and how old (ms), if the sender knows it. */
export type CoordOf = (m: Member) => Pick<MemberEntry, "coord" | "coordAge"> | undefined;

/** The entries of a full state, with the coordinates `coordOf` gives. */
export function stateEntries(members: Iterable<Member>, coordOf: CoordOf): MemberEntry[] {
  const out: MemberEntry[] = [];
  for (const m of members) {
    const e = entryOf(m);
    const c = coordOf(m);
    if (c?.coord) {
      e.coord = c.coord;
      e.coordAge = c.coordAge;
    }
    out.push(e);
  }
  return out;
}

export function pushPullRequest(
  from: NodeRef,
  seq: number,
  join: boolean,
  entries: MemberEntry[],
): PushPullRequest {
  return {
    type: MessageType.PushPullRequest,
    v: PROTOCOL_VERSION,
    seq,
    from,
    join,
    members: entries,
  };
}

export function pushPullResponse(
  from: NodeRef,
  seq: number,
  entries: MemberEntry[],
): PushPullResponse {
  return { type: MessageType.PushPullResponse, v: PROTOCOL_VERSION, seq, from, members: entries };
}
