// The member list: records by id, counts by state, and the probe order. Bounded
// by MAX_MEMBERS. No protocol decisions here — swim.ts makes them.

import { isDeadOrLeft, type Member, MemberState } from "./member.ts";
import type { Rng } from "./rng.ts";

/** Members held at most, in every state; a new one past it evicts the oldest failed or left. */
export const MAX_MEMBERS = 16_384;

export class MemberTable {
  readonly #byId = new Map<string, Member>();
  readonly #counts: Record<MemberState, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
  /** Ids in probe order: shuffled at each wrap, new ones inserted at a random place. */
  #order: string[] = [];
  #next = 0;

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
    // At a random place, not the end (memberlist swaps it there): otherwise every
    // newcomer would wait a whole round before anyone probes it.
    const order = this.#order;
    const at = this.rng.int(order.length + 1);
    order.push(m.id);
    [order[at], order[order.length - 1]] = [order[order.length - 1], order[at]];
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
    // The probe order drops it lazily, at the next wrap.
  }

  /** The next member to probe (alive or suspect, not self), or undefined if there is none. */
  nextProbeTarget(): Member | undefined {
    for (let checked = 0; checked <= this.#order.length; checked++) {
      if (this.#next >= this.#order.length) this.#reshuffle();
      const m = this.#byId.get(this.#order[this.#next++]);
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
    const ids = this.#order;
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

  #reshuffle(): void {
    this.#order = this.rng.shuffle(this.#order.filter((id) => this.#byId.has(id)));
    this.#next = 0;
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
