// Pending acks by sequence number: who is waiting, and what to do with an ack or
// a nack. Timers belong to the waiter (a probe round, a relay), which forgets its
// entry when it is done. Bounded: a flood of ping requests cannot grow it.

import type { Ack, Nack } from "./messages.ts";

/** Acks awaited at once, at most; past it new waits are refused. */
export const MAX_PENDING_ACKS = 1_024;

export interface AckWaiter {
  onAck(ack: Ack): void;
  onNack?(nack: Nack): void;
}

export class AckRegistry {
  readonly #waiting = new Map<number, AckWaiter>();

  get size(): number {
    return this.#waiting.size;
  }

  /** False when full: the caller skips what it wanted to do. */
  expect(seq: number, waiter: AckWaiter): boolean {
    if (this.#waiting.size >= MAX_PENDING_ACKS) return false;
    this.#waiting.set(seq, waiter);
    return true;
  }

  forget(seq: number): void {
    this.#waiting.delete(seq);
  }

  /** Hands the ack to its waiter (and forgets it); false for an unknown or late one. */
  ack(msg: Ack): boolean {
    const w = this.#waiting.get(msg.seq);
    if (!w) return false;
    this.#waiting.delete(msg.seq);
    w.onAck(msg);
    return true;
  }

  nack(msg: Nack): boolean {
    const w = this.#waiting.get(msg.seq);
    if (!w?.onNack) return false;
    w.onNack(msg);
    return true;
  }

  clear(): void {
    this.#waiting.clear();
  }
}
