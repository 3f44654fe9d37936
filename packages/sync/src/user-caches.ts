/**
 * Per-user answers needed on every request — the rooms a user is joined to, whom they ignore —
 * kept in memory and trusted only while the change caches say nothing about the user moved since the
 * answer was read. A read stamps the stream position first, so a change applied during the read
 * makes the entry stale at once.
 */
import type { StreamChangeCache } from './stream-change-cache.ts';

interface Entry<T> {
  readonly value: T;
  readonly at: number;
}

export class ValidatedUserCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly changes: StreamChangeCache;
  private readonly position: () => number;
  private readonly load: (userId: string) => Promise<T>;
  private readonly maxEntries: number;

  constructor(opts: { changes: StreamChangeCache; position: () => number; load: (userId: string) => Promise<T>; maxEntries?: number }) {
    this.changes = opts.changes;
    this.position = opts.position;
    this.load = opts.load;
    this.maxEntries = opts.maxEntries ?? 50_000;
  }

  async get(userId: string): Promise<T> {
    const e = this.entries.get(userId);
    if (e && this.changes.changedSince(userId, e.at) === false) return e.value;
    const at = this.position();
    const value = await this.load(userId);
    this.remember(userId, { value, at });
    return value;
  }

  /** Several users at once: the stale or unknown ones read together by `loadMany`. */
  async getMany(userIds: readonly string[], loadMany: (userIds: readonly string[]) => Promise<ReadonlyMap<string, T>>): Promise<Map<string, T>> {
    const out = new Map<string, T>();
    const stale: string[] = [];
    for (const userId of userIds) {
      const e = this.entries.get(userId);
      if (e && this.changes.changedSince(userId, e.at) === false) out.set(userId, e.value);
      else stale.push(userId);
    }
    if (stale.length === 0) return out;
    const at = this.position();
    const loaded = await loadMany(stale);
    for (const userId of stale) {
      const value = loaded.get(userId) as T;
      out.set(userId, value);
      this.remember(userId, { value, at });
    }
    return out;
  }

  private remember(userId: string, entry: Entry<T>): void {
    this.entries.delete(userId);
    this.entries.set(userId, entry);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }
}
