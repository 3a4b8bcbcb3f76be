// What one node knows about another: its state, incarnation and metadata.

import type { Coordinate } from "./vivaldi.ts";

export const MemberState = {
  Alive: "alive",
  Suspect: "suspect",
  /** Declared failed by the failure detector. */
  Dead: "dead",
  /** Left on purpose (it said so itself). */
  Left: "left",
} as const;
export type MemberState = (typeof MemberState)[keyof typeof MemberState];

export type Json = null | boolean | number | string | readonly Json[] | {
  readonly [k: string]: Json;
};

/**
 * Opaque to membership: the node's profile summary, class, labels and load vector
 * (with its own version), as the agent chooses. Treated as an immutable value: a
 * change is a new object, gossiped as an `alive` with a bumped incarnation.
 */
export type MemberMeta = { readonly [k: string]: Json };

/** Largest metadata, as JSON text: an `alive` carrying it must fit one datagram. */
export const META_MAX_BYTES = 768;

export interface Member {
  readonly id: string;
  address: string;
  /** Only the member itself raises it (to refute, or to announce new metadata). */
  incarnation: number;
  state: MemberState;
  meta: MemberMeta;
  /** Scheduler time of the last state change. */
  changedAt: number;
  /** Its network coordinate, from the last ack to us that carried one, and when. */
  coord?: Coordinate;
  coordAt?: number;
}

/** A copy handed to observers and callers; never the live record. */
export type MemberSnapshot = Readonly<Member>;

/** One member in a push-pull exchange. */
export interface MemberEntry {
  id: string;
  address: string;
  incarnation: number;
  state: MemberState;
  meta: MemberMeta;
  /** The member's network coordinate as the sender knows it, and its age in ms. */
  coord?: Coordinate;
  coordAge?: number;
}

export const snapshot = (m: Member): MemberSnapshot => ({ ...m });

export const entryOf = (m: Member): MemberEntry => ({
  id: m.id,
  address: m.address,
  incarnation: m.incarnation,
  state: m.state,
  meta: m.meta,
});

export const isDeadOrLeft = (m: { state: MemberState }): boolean =>
  m.state === MemberState.Dead || m.state === MemberState.Left;

export const metaBytes = (meta: MemberMeta): number => JSON.stringify(meta).length;

export function sameMeta(a: MemberMeta, b: MemberMeta): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}
