// Who owns a job: rendezvous (highest random weight) hashing of the job's key over the
// live members. Every member computes the same order from the same member list, with no
// coordination; when a member leaves, only the jobs it owned move, each to the next in
// its own order, which already holds a replica. Pure.

/** Owners of each job: the first places it again when its node dies, the others hold copies. */
export const OWNER_COUNT = 3;

/** The members in `key`'s rendezvous order, best first; at most `count`. */
export function ownersOf(key: string, members: readonly string[], count = OWNER_COUNT): string[] {
  return members
    .map((m) => ({ m, w: weight(key, m) }))
    .sort((a, b) => b.w - a.w || (a.m < b.m ? -1 : a.m > b.m ? 1 : 0))
    .slice(0, count)
    .map((x) => x.m);
}

/** The key jobs are owned by: a replica set is owned as one, so its owner can spread it. */
export const ownerKey = (job: { id: string; spec: { group?: string } }): string =>
  job.spec.group ?? job.id;

/** Two 32-bit FNV-1a hashes (different seeds, finalized as murmur3 does) as 52 bits. */
function weight(key: string, member: string): number {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  const text = `${key}\u0000${member}`;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193);
  }
  return (fmix(a) & 0xfffff) * 0x100000000 + (fmix(b ^ a) >>> 0);
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
