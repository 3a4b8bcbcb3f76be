// The member list: records by id, counts by state, and the probe order. Bounded
// by MAX_MEMBERS. No protocol decisions here — swim.ts makes them.
//
// The probe order is one ring shared by the whole cluster: every id, sorted. In round r
// (a shared clock divided by the probe interval) the member at ring position p probes
// the one at p + d, with d = 1 + r mod (M − 1): for each round that is a permutation, so
// every member is probed about once per round by somebody — where SWIM's independent
// shuffles leave a member unprobed for k rounds with probability ~e^−k, which was most
// of the time a crash took to be noticed. Each prober still visits every member once
// in M − 1 rounds. Views that differ, or clocks that do, only make it less even.

import { isDeadOrLeft, type Member, MemberState } from "./member.ts";
import type { Rng } from "./rng.ts";

/** Members held at most, in every state; a new one past it evicts the oldest failed or left. */
export const MAX_MEMBERS = 16_384;

export class MemberTable {
  readonly #byId = new Map<string, Member>();
  readonly #counts: Record<MemberState, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
  /** Every id, sorted: the probe ring (above). */
  readonly #ring: string[] = [];

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
    return true;
  }

  setState(m: Member, state: MemberState, now: number): void {
    if (m.state === state) return;
    this.#counts[m.state]--;
    this.#counts[state]++;
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
  }

  /**
   * The member to probe in `round` (alive or suspect, not self): the one `d` places on
   * along the ring (above), or the next one up from there; undefined if there is none.
   */
  nextProbeTarget(round: number): Member | undefined {
    const ring = this.#ring;
    const size = ring.length;
    if (size < 2) return undefined;
    const d = 1 + (((round % (size - 1)) + size - 1) % (size - 1));
    const at = this.#ringIndex(this.selfId);
    for (let step = 0; step < size - 1; step++) {
      const m = this.#byId.get(ring[(at + d + step) % size]);
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
