// When a node's new meta is worth gossiping. Every change costs a rumor to every member
// (retransmitted ~mult·log N times), so live readings that only jitter must not count:
// the one-minute load of a busy host crosses a rounding step back and forth all day.
// What placement depends on (free CPUs, memory, GPUs; the profile; labels; going on
// battery) counts at once; the live readings count when they moved by a step:

import type { Json, MemberMeta } from "../membership/member.ts";
import { sameMeta } from "../membership/member.ts";

/** Load vector keys (meta.ts) read live, and how far each must move to be news. */
const LIVE_STEPS: Readonly<Record<string, number>> = {
  /** One-minute load average. */
  l: 1,
  /** Battery percent. */
  b: 10,
  /** Temperature, °C. */
  t: 4,
};

type Obj = { readonly [k: string]: Json };
const isObj = (x: Json | undefined): x is Obj =>
  typeof x === "object" && x !== null && !Array.isArray(x);

/**
 * What changed from the announced `prev` to `next`: nothing worth saying, only live
 * readings that moved a step ("live": the agent spaces these out, agent.liveMetaInterval),
 * or something placement reads ("now").
 */
export type MetaChange = "none" | "live" | "now";

/** Whether `next` should replace the announced `prev`. */
export function metaWorthSending(prev: MemberMeta, next: MemberMeta): boolean {
  return metaChange(prev, next) !== "none";
}

export function metaChange(prev: MemberMeta, next: MemberMeta): MetaChange {
  if (sameMeta(prev, next)) return "none";
  const a = isObj(prev.l) ? prev.l : {};
  const b = isObj(next.l) ? next.l : {};
  const rest = (m: MemberMeta, l: Obj) => {
    const liveless: Record<string, Json> = {};
    for (const k in l) if (!(k in LIVE_STEPS)) liveless[k] = l[k];
    return { ...m, l: liveless };
  };
  if (!sameMeta(rest(prev, a), rest(next, b))) return "now";
  for (const [k, step] of Object.entries(LIVE_STEPS)) {
    const x = a[k], y = b[k];
    if (x === y) continue;
    if (typeof x !== "number" || typeof y !== "number") return "now"; // appeared or went
    if (Math.abs(x - y) >= step) return "live";
  }
  return "none";
}
