// Group commit for calls that are cheaper in bulk (a KV commit, a message to an owner).
// The first item goes out at once, alone: no added latency when the node is quiet. Items
// that arrive while a call for the same key is in flight wait and go together in the
// next one. Under load the batches grow by themselves to the rate the callee keeps up
// with, as a database's group commit does.

export class Batcher<K, T, R> {
  readonly #send: (key: K, items: T[]) => Promise<R[]>;
  readonly #max: number;
  readonly #weigh?: (item: T) => number;
  readonly #maxWeight: number;
  readonly #queues = new Map<K, Array<Waiting<T, R>>>();
  /** Calls made and items carried: their ratio is the mean batch size. */
  calls = 0;
  items = 0;

  /**
   * `send` answers each item, in order; a rejection fails every item of that call. A
   * batch holds at most `maxBatch` items and, with `weigh`, at most `maxWeight` in all
   * (an item heavier than that goes alone).
   */
  constructor(
    send: (key: K, items: T[]) => Promise<R[]>,
    maxBatch: number,
    limit?: { weigh: (item: T) => number; maxWeight: number },
  ) {
    this.#send = send;
    this.#max = maxBatch;
    this.#weigh = limit?.weigh;
    this.#maxWeight = limit?.maxWeight ?? Infinity;
  }

  add(key: K, item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const queue = this.#queues.get(key);
      if (queue) {
        queue.push({ item, resolve, reject });
        return;
      }
      const q: Array<Waiting<T, R>> = [{ item, resolve, reject }];
      this.#queues.set(key, q);
      this.#drain(key, q);
    });
  }

  async #drain(key: K, queue: Array<Waiting<T, R>>): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.splice(0, this.#take(queue));
      this.calls++;
      this.items += batch.length;
      try {
        const answers = await this.#send(key, batch.map((w) => w.item));
        batch.forEach((w, i) => w.resolve(answers[i]));
      } catch (e) {
        for (const w of batch) w.reject(e);
      }
    }
    this.#queues.delete(key);
  }

  #take(queue: Array<Waiting<T, R>>): number {
    if (!this.#weigh) return this.#max;
    let n = 0, w = 0;
    while (n < queue.length && n < this.#max) {
      w += this.#weigh(queue[n].item);
      if (n > 0 && w > this.#maxWeight) break;
      n++;
    }
    return n;
  }
}

interface Waiting<T, R> {
  item: T;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}
