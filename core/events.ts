// The node's event stream for observers (`/v1/events`, `herd nodes --watch`):
// typed events, numbered, the newest kept for late subscribers. Observers only:
// nothing here steers the node, and a slow observer cannot hold anything up.

export interface HerdEvent {
  /** Increasing within one agent run. */
  id: number;
  type: string;
  /** ms since the epoch. */
  at: number;
  data: Record<string, unknown>;
}

/** Events kept for a subscriber that resumes (`Last-Event-ID`) or starts late. */
export const EVENT_HISTORY = 512;
/** Events queued for one subscriber before it is dropped as too slow. */
export const SUBSCRIBER_BACKLOG = 4096;

export interface Subscription {
  /** The next event; undefined when the subscription ended. */
  next(): Promise<HerdEvent | undefined>;
  close(): void;
  /** Set when the subscriber fell too far behind and lost events. */
  readonly overflowed: boolean;
}

export class EventHub {
  #nextId = 1;
  readonly #history: HerdEvent[] = [];
  readonly #subs = new Set<Sub>();

  constructor(private readonly now: () => number) {}

  publish(type: string, data: Record<string, unknown>): void {
    const e: HerdEvent = { id: this.#nextId++, type, at: this.now(), data };
    this.#history.push(e);
    if (this.#history.length > EVENT_HISTORY) this.#history.shift();
    for (const s of this.#subs) s.push(e);
  }

  /** Events after `afterId` that are still kept, then live ones. */
  subscribe(afterId = Number.MAX_SAFE_INTEGER): Subscription {
    const sub = new Sub(() => this.#subs.delete(sub));
    for (const e of this.#history) if (e.id > afterId) sub.push(e);
    this.#subs.add(sub);
    return sub;
  }

  get subscribers(): number {
    return this.#subs.size;
  }

  get published(): number {
    return this.#nextId - 1;
  }
}

class Sub implements Subscription {
  readonly #queue: HerdEvent[] = [];
  #waiter: ((e: HerdEvent | undefined) => void) | undefined;
  #closed = false;
  overflowed = false;

  constructor(private readonly onClose: () => void) {}

  push(e: HerdEvent): void {
    if (this.#closed) return;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w(e);
      return;
    }
    this.#queue.push(e);
    if (this.#queue.length > SUBSCRIBER_BACKLOG) {
      this.overflowed = true;
      this.close();
    }
  }

  next(): Promise<HerdEvent | undefined> {
    const e = this.#queue.shift();
    if (e || this.#closed) return Promise.resolve(e);
    return new Promise((r) => this.#waiter = r);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onClose();
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.(undefined);
  }
}
