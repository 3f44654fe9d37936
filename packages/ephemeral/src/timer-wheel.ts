/**
 * A timer wheel: deadlines grouped into fixed-width buckets, drained by one periodic tick. Typing
 * expiry and presence timeouts need a timer per user; thousands of setTimeouts would each cost a
 * libuv handle and a wake-up, while a wheel costs one interval and a Map insert. A deadline fires
 * up to one bucket late, which these timeouts tolerate (Synapse checks every 5 s the same way).
 *
 * An object may sit in several buckets; `fetch` returns it once per tick, and the caller re-checks
 * the real state, so stale entries are harmless.
 */

/** Milliseconds since the epoch; injectable so tests can move time by hand. */
export type Clock = () => number;
export const systemClock: Clock = () => Date.now();

export class TimerWheel<T> {
  private readonly bucketMs: number;
  /** bucket index → objects due in it. */
  private readonly buckets = new Map<number, Set<T>>();

  constructor(bucketMs = 5000) {
    if (!(bucketMs > 0)) throw new RangeError('bucketMs must be positive');
    this.bucketMs = bucketMs;
  }

  /** Arrange for `obj` to come out of `fetch` once `then` has passed. */
  insert(_now: number, obj: T, then: number): void {
    // A deadline already past lands in a drained bucket index; `fetch` takes every index up to now,
    // so it still comes out at the next fetch.
    const index = Math.ceil(then / this.bucketMs);
    let set = this.buckets.get(index);
    if (!set) {
      set = new Set();
      this.buckets.set(index, set);
    }
    set.add(obj);
  }

  /** Everything whose bucket ended at or before `now`, each once. */
  fetch(now: number): T[] {
    const upTo = Math.floor(now / this.bucketMs);
    const out = new Set<T>();
    // Walk the buckets present rather than every index since the last fetch: long idle gaps are cheap.
    for (const [index, set] of this.buckets) {
      if (index > upTo) continue;
      for (const obj of set) out.add(obj);
      this.buckets.delete(index);
    }
    return [...out];
  }

  get size(): number {
    let n = 0;
    for (const set of this.buckets.values()) n += set.size;
    return n;
  }
}
