// Time as the protocol sees it: a reading and one-shot timers. The state machine
// never touches Date or setTimeout itself, so the simulator can run it in virtual
// time (sim/virtual_scheduler.ts) and a real node runs it on the event loop.

/** Stops a timer; calling it again, or after the timer ran, does nothing. */
export type Cancel = () => void;

export interface Scheduler {
  /** Milliseconds; only differences are meaningful. */
  now(): number;
  /** Runs `fn` once, `ms` from now (0 or less: as soon as possible, never synchronously). */
  after(ms: number, fn: () => void): Cancel;
}

/**
 * The real scheduler. `now()` is monotonic (`performance.now()` from the process's time
 * origin) rather than `Date.now()`: an NTP step must not turn into a negative round-trip
 * time or fire a suspicion timer early.
 */
export const realScheduler: Scheduler = {
  now: () => performance.timeOrigin + performance.now(),
  after(ms, fn) {
    const id = setTimeout(fn, Math.max(0, ms));
    return () => clearTimeout(id);
  },
};

/**
 * The timers one owner started, so it can cancel all of them when it stops: nothing
 * of a stopped member keeps running.
 */
export class TimerGroup implements Scheduler {
  readonly #live = new Set<Cancel>();

  constructor(readonly scheduler: Scheduler) {}

  now(): number {
    return this.scheduler.now();
  }

  get size(): number {
    return this.#live.size;
  }

  after(ms: number, fn: () => void): Cancel {
    const cancel: Cancel = () => {
      if (this.#live.delete(cancel)) stop();
    };
    const stop = this.scheduler.after(ms, () => {
      if (this.#live.delete(cancel)) fn();
    });
    this.#live.add(cancel);
    return cancel;
  }

  cancelAll(): void {
    for (const cancel of [...this.#live]) cancel();
  }
}
