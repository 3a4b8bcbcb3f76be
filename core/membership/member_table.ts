// The member list: records by id, counts by state, and the probe order. Bounded
// by MAX_MEMBERS. No protocol decisions here — swim.ts makes them.
//
// The probe order is one ring shared by the whole cluster: every id, sorted. In round r
// (a shared clock divided by the probe interval) the member at ring position p probes
// the one at p + d(r), where d(r) walks the finger distances of a ring of M: ±1, ±2,
// ±4, … (powers of two below M, each with its mirror M − f). For each round that is a
// permutation, so every member is probed about once per round by somebody — where
// SWIM's independent shuffles leave a member unprobed for k rounds with probability
// ~e^−k, which was most of the time a crash took to be noticed.
//
// Fingers, not every distance, because a QUIC connection is not free the way a UDP
// packet is: a handshake and two certificate proofs (~5 ms of CPU for both ends), and
// memory while it is open. With every distance in turn, a member talks to all M − 1
// others every M rounds, so past the pool's cap every probe dials; with fingers it
// talks to ~2·log2 M neighbours (14 at M = 100), the same ones every cycle, and the
// connections stay open. Gossip and relays prefer the same neighbours (neighbours()),
// and push-pulls with random members keep the views from drifting apart. Views that
// differ, or clocks that do, only make the ring less even, never wrong.
import { isDeadOrLeft, type Member, MemberState } from "./member.ts";
import type { Rng } from "./rng.ts";

/** Members held at most, in every state; a new one past it evicts the oldest failed or left. */
export const MAX_MEMBERS = 16_384;

export class MemberTable {
  readonly #byId = new Map<string, Member>();
  readonly #counts: Record<MemberState, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
  /** Every id, sorted: the probe ring (above). */
  readonly #ring: string[] = [];
  /** neighbours(), until the ring or a member's liveness changes. */
  #neighbours: Member[] | undefined;

  constructor(readonly selfId: string, readonly rng: Rng) {}

  get size(): number {
    return this.#byId.size;
  }

  get(id: string): Member | undefined {
    return this.#byId.get(id);
  }

  count(state: MemberState): number {
    return this.#counts[state];
  }

  /** Members believed up (alive or suspect), self included: the N of every formula. */
  get live(): number {
    return this.#counts.alive + this.#counts.suspect;
  }

  all(): IterableIterator<Member> {
    return this.#byId.values();
  }

  /**
   * Adds a new member. When full, evicts the failed or left member that changed state
   * longest ago; returns false when every slot holds a live member.
   */
  add(m: Member): boolean {
    if (this.#byId.size >= MAX_MEMBERS && !this.#evictOne()) return false;
    this.#byId.set(m.id, m);
    this.#counts[m.state]++;
    this.#ring.splice(this.#ringIndex(m.id), 0, m.id);
    this.#neighbours = undefined;
    return true;
  }

  setState(m: Member, state: MemberState, now: number): void {
    if (m.state === state) return;
    this.#counts[m.state]--;
    this.#counts[state]++;
    if (isDeadOrLeft(m) !== (state === MemberState.Dead || state === MemberState.Left)) {
      this.#neighbours = undefined; // a skipped member changes who the next one up is
    }
    m.state = state;
    m.changedAt = now;
  }

  remove(id: string): void {
    const m = this.#byId.get(id);
    if (!m) return;
    this.#byId.delete(id);
    this.#counts[m.state]--;
    const at = this.#ringIndex(id);
    if (this.#ring[at] === id) this.#ring.splice(at, 1);
    this.#neighbours = undefined;
  }

  /**
   * The member to probe in `round` (alive or suspect, not self): the one the round's
   * finger distance places on along the ring (above), or the next one up from there;
   * undefined if there is none.
   */
  nextProbeTarget(round: number): Member | undefined {
    const size = this.#ring.length;
    if (size < 2) return undefined;
    const fingers = fingerDistances(size);
    const d = fingers[((round % fingers.length) + fingers.length) % fingers.length];
    return this.#liveFrom(this.#ringIndex(this.selfId) + d);
  }

  /**
   * The live members this one probes over a cycle of rounds (and that probe it): its
   * finger neighbours, which it keeps connections to. Cached until the ring changes.
   */
  neighbours(): Member[] {
    if (this.#neighbours) return this.#neighbours.filter((m) => !isDeadOrLeft(m));
    const size = this.#ring.length;
    const out = new Set<Member>();
    if (size >= 2) {
      const at = this.#ringIndex(this.selfId);
      for (const d of fingerDistances(size)) {
        const m = this.#liveFrom(at + d);
        if (m) out.add(m);
      }
    }
    this.#neighbours = [...out];
    return this.#neighbours;
  }

  /**
   * Up to k distinct members for which `accept` holds, neighbours first (in random
   * order), then random others if there are fewer than k neighbours to take.
   */
  nearMembers(k: number, accept: (m: Member) => boolean): Member[] {
    const near = this.rng.shuffle(this.neighbours().filter(accept)).slice(0, k);
    if (near.length >= k) return near;
    const more = this.randomMembers(k, (m) => accept(m) && !near.includes(m));
    return [...near, ...more].slice(0, k);
  }

  /** The first live member other than self at ring position `from` or after. */
  #liveFrom(from: number): Member | undefined {
    const ring = this.#ring;
    const size = ring.length;
    for (let step = 0; step < size - 1; step++) {
      const m = this.#byId.get(ring[(from + step) % size]);
      if (m && m.id !== this.selfId && !isDeadOrLeft(m)) return m;
    }
    return undefined;
  }

  /**
   * Up to k distinct members for which `accept` holds, chosen at random (memberlist's
   * kRandomNodes: exhaustive on a shuffled copy when the list is small, sampling otherwise).
   */
  randomMembers(k: number, accept: (m: Member) => boolean): Member[] {
    const out: Member[] = [];
    if (k <= 0) return out;
    const ids = this.#ring;
    if (ids.length < 3 * k) {
      for (const id of this.rng.shuffle([...ids])) {
        const m = this.#byId.get(id);
        if (m && accept(m) && !out.includes(m)) out.push(m);
        if (out.length >= k) break;
      }
      return out;
    }
    for (let tries = 0; tries < 3 * ids.length && out.length < k; tries++) {
      const m = this.#byId.get(ids[this.rng.int(ids.length)]);
      if (m && accept(m) && !out.includes(m)) out.push(m);
    }
    return out;
  }

  /** Removes failed and left members whose time is up; returns their ids. */
  reap(expired: (m: Member) => boolean): string[] {
    const gone: string[] = [];
    for (const m of this.#byId.values()) {
      if (isDeadOrLeft(m) && expired(m)) gone.push(m.id);
    }
    for (const id of gone) this.remove(id);
    return gone;
  }

  /** Where `id` is, or would go, in the sorted ring. */
  #ringIndex(id: string): number {
    let lo = 0, hi = this.#ring.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#ring[mid] < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #evictOne(): boolean {
    let oldest: Member | undefined;
    for (const m of this.#byId.values()) {
      if (isDeadOrLeft(m) && (!oldest || m.changedAt < oldest.changedAt)) oldest = m;
    }
    if (!oldest) return false;
    this.remove(oldest.id);
    return true;
  }
}

const fingerCache = new Map<number, readonly number[]>();

/**
 * The probe distances for a ring of `size`: 1, size − 1, 2, size − 2, 4, … — each power
 * of two below `size` and its mirror, once each. A distance and its mirror are the same
 * pair of members seen from either end, so they come in consecutive rounds: the
 * connection one end dialed carries the other's probe next.
 */
export function fingerDistances(size: number): readonly number[] {
  let out = fingerCache.get(size);
  if (out) return out;
  const seen = new Set<number>();
  const list: number[] = [];
  for (let f = 1; f < size; f *= 2) {
    for (const d of [f, size - f]) {
      if (!seen.has(d)) {
        seen.add(d);
        list.push(d);
      }
    }
  }
  out = list;
  if (fingerCache.size > 64) fingerCache.clear();
  fingerCache.set(size, out);
  return out;
}
