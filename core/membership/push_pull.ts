// Push-pull (anti-entropy): two members exchange their full member lists. What is
// sent, and how often; merging is the state machine's (swim.ts).

import { entryOf, type Member } from "./member.ts";
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

export function pushPullRequest(
  from: NodeRef,
  seq: number,
  join: boolean,
  members: Iterable<Member>,
): PushPullRequest {
  const entries = [...members].map(entryOf);
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
  members: Iterable<Member>,
): PushPullResponse {
  const entries = [...members].map(entryOf);
  return { type: MessageType.PushPullResponse, v: PROTOCOL_VERSION, seq, from, members: entries };
}
