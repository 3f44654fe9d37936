/**
 * Every /sync response carries the device's one-time key counts and unused fallback key types; they
 * change only when the device uploads keys, someone claims one, or the device goes. This per-process
 * cache answers the rest from memory. Changes made on this process drop the entry at once and are
 * announced to listeners (the process wiring tells the other processes); a TTL bounds what a lost
 * announcement can cost, and a load that raced a change is not kept.
 */
import type { Sql } from '@hs/storage';
import type { DeviceKeyCounts } from './one-time-keys.ts';
import { getDeviceKeyCounts } from './one-time-keys.ts';

export const KEY_COUNTS_TTL_MS = 60_000;
const MAX_ENTRIES = 100_000;

interface Entry {
  readonly counts: DeviceKeyCounts;
  readonly at: number;
}

const keyOf = (userId: string, deviceId: string) => `${userId}\u0000${deviceId}`;

export class KeyCountsCache {
  private readonly sql: Sql;
  private readonly entries = new Map<string, Entry>();
  /** Per key, the number of the last change seen; a load started before it is not stored. */
  private readonly changedAt = new Map<string, number>();
  private changes = 0;
  private readonly listeners = new Set<(keys: readonly string[]) => void>();
  private readonly clock: () => number;

  constructor(sql: Sql, clock: () => number = Date.now) {
    this.sql = sql;
    this.clock = clock;
  }

  async get(userId: string, deviceId: string): Promise<DeviceKeyCounts> {
    const key = keyOf(userId, deviceId);
    const now = this.clock();
    const hit = this.entries.get(key);
    if (hit && now - hit.at < KEY_COUNTS_TTL_MS && now >= hit.at) return hit.counts;
    const started = this.changes;
    const counts = await getDeviceKeyCounts(this.sql, userId, deviceId);
    if ((this.changedAt.get(key) ?? -1) < started) this.remember(key, { counts, at: now });
    return counts;
  }

  /** Keys of these devices changed on this process: forget them here and tell the listeners. */
  changed(userId: string, deviceIds: Iterable<string>): void {
    const keys = [...deviceIds].map((d) => keyOf(userId, d));
    if (keys.length === 0) return;
    this.forget(keys);
    for (const l of this.listeners) l(keys);
  }

  /** Forget entries another process changed (keys as `changed` announced them). */
  forget(keys: readonly string[]): void {
    const n = ++this.changes;
    for (const key of keys) {
      this.entries.delete(key);
      this.changedAt.delete(key);
      this.changedAt.set(key, n);
    }
    // Only loads in flight need the marks; keep the newest.
    while (this.changedAt.size > MAX_ENTRIES) this.changedAt.delete(this.changedAt.keys().next().value as string);
  }

  /** Hear of every change made on this process (not of those applied from elsewhere). */
  onChanged(listener: (keys: readonly string[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private remember(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
  }
}

const caches = new WeakMap<Sql, KeyCountsCache>();

/** One cache per database pool, shared by /sync and the handlers that change keys. */
export function keyCountsCacheFor(sql: Sql): KeyCountsCache {
  let cache = caches.get(sql);
  if (!cache) caches.set(sql, (cache = new KeyCountsCache(sql)));
  return cache;
}
