/**
 * Wakes long-polling requests (/sync, /events) when something they care about changes, in this process.
 * Every write — local, or applied from replication — calls `notify` with the rooms or users it touches.
 *
 * The race between "compute an empty response" and "start waiting" is closed by listening FIRST:
 * a request registers a listener, then reads from the database, and waits only if it found nothing;
 * any change notified after the listener was registered resolves it at once. No history is kept, so
 * memory is proportional to the number of waiting requests.
 */
import type { StreamChange } from '@hs/core';

export interface Listener {
  /** True once a relevant change was notified after this listener was registered. */
  readonly fired: boolean;
  /** Resolves true when a relevant change arrives (or already has), false on timeout or close. */
  wait(timeoutMs: number): Promise<boolean>;
  close(): void;
}

interface Waiter {
  fired: boolean;
  resolve: ((fired: boolean) => void) | undefined;
  timer: NodeJS.Timeout | undefined;
  keys: string[];
}

export class Notifier {
  private readonly byKey = new Map<string, Set<Waiter>>();
  private readonly positions = new Map<string, number>();
  private waiting = 0;

  /** Register interest in a user (their own streams) and rooms (room streams). */
  listen(userId: string, rooms: Iterable<string>): Listener {
    const waiter: Waiter = { fired: false, resolve: undefined, timer: undefined, keys: [`u:${userId}`] };
    for (const r of rooms) waiter.keys.push(`r:${r}`);
    for (const k of waiter.keys) {
      let set = this.byKey.get(k);
      if (!set) this.byKey.set(k, (set = new Set()));
      set.add(waiter);
    }
    const close = () => {
      for (const k of waiter.keys) {
        const set = this.byKey.get(k);
        set?.delete(waiter);
        if (set?.size === 0) this.byKey.delete(k);
      }
      if (waiter.timer) clearTimeout(waiter.timer);
      const resolve = waiter.resolve;
      waiter.resolve = undefined;
      resolve?.(waiter.fired);
    };
    return {
      get fired() {
        return waiter.fired;
      },
      wait: (timeoutMs: number) => {
        if (waiter.fired) return Promise.resolve(true);
        if (timeoutMs <= 0) return Promise.resolve(false);
        return new Promise<boolean>((resolve) => {
          this.waiting++;
          waiter.resolve = (fired) => {
            this.waiting--;
            resolve(fired);
          };
          waiter.timer = setTimeout(() => {
            waiter.timer = undefined;
            const r = waiter.resolve;
            waiter.resolve = undefined;
            r?.(false);
          }, timeoutMs);
        });
      },
      close,
    };
  }

  /** A stream advanced: wake every listener of the rooms and users it names. */
  readonly notify = (change: StreamChange): void => {
    const prev = this.positions.get(change.stream) ?? 0;
    if (change.position > prev) this.positions.set(change.stream, change.position);
    const keys = [...(change.rooms ?? []).map((r) => `r:${r}`), ...(change.users ?? []).map((u) => `u:${u}`)];
    for (const k of keys) {
      const set = this.byKey.get(k);
      if (!set) continue;
      for (const w of set) {
        if (w.fired) continue;
        w.fired = true;
        if (w.timer) clearTimeout(w.timer);
        w.timer = undefined;
        const r = w.resolve;
        w.resolve = undefined;
        r?.(true);
      }
    }
  };

  /** The highest position notified per stream (for metrics and tests). */
  position(stream: string): number {
    return this.positions.get(stream) ?? 0;
  }

  /** Requests currently blocked in `wait`. */
  get waitingCount(): number {
    return this.waiting;
  }

  /** Registered listeners' keys (users + rooms), for metrics. */
  get keyCount(): number {
    return this.byKey.size;
  }
}
