/**
 * "Has X changed since position P?" answered from memory (Synapse keeps the same kind of cache per
 * stream). Fed with every change this process applies — before the stream position includes it — so
 * a sync whose token covers a change always finds it recorded. It remembers the latest position per
 * entity (a room, a user) above a floor; below the floor it does not know, and callers ask Postgres.
 */
import type { StreamChange } from '@hs/core';

export class StreamChangeCache {
  private floorPos: number;
  private readonly last = new Map<string, number>();
  private readonly maxEntries: number;

  /** `floor`: the stream position from which every change is recorded. */
  constructor(floor: number, maxEntries = 100_000) {
    this.floorPos = floor;
    this.maxEntries = maxEntries;
  }

  get floor(): number {
    return this.floorPos;
  }

  record(entity: string, position: number): void {
    if (position <= this.floorPos) return;
    const prev = this.last.get(entity);
    if (prev !== undefined && prev >= position) return;
    // Re-inserted at the end: the map's first entry is the one changed longest ago.
    this.last.delete(entity);
    this.last.set(entity, position);
    if (this.last.size > this.maxEntries) {
      const [oldest, at] = this.last.entries().next().value as [string, number];
      this.last.delete(oldest);
      // Forgetting an entity means not knowing whether it changed at or before `at`.
      if (at > this.floorPos) this.floorPos = at;
    }
  }

  /** Whether every change after `since` is recorded here. */
  covers(since: number): boolean {
    return since >= this.floorPos;
  }

  /** True/false when known; undefined when `since` lies below what is recorded. */
  changedSince(entity: string, since: number): boolean | undefined {
    if (!this.covers(since)) return undefined;
    return (this.last.get(entity) ?? 0) > since;
  }

  /** The latest recorded change of `entity` (undefined: none above the floor). */
  lastChange(entity: string): number | undefined {
    return this.last.get(entity);
  }
}

/** The caches /sync consults, fed from the process's applied changes. */
export class SyncChangeCaches {
  /** events stream: room → its latest event. */
  readonly roomEvents: StreamChangeCache;
  /** events stream: user → their latest membership change. */
  readonly memberships: StreamChangeCache;
  /** events stream: room → its latest membership event (anyone's). */
  readonly roomMembers: StreamChangeCache;
  /** account_data stream: user → their latest account data change. */
  readonly accountData: StreamChangeCache;
  /** receipts stream: user → their latest receipt. */
  readonly receipts: StreamChangeCache;

  constructor(start: { events: number; accountData: number; receipts: number }) {
    this.roomEvents = new StreamChangeCache(start.events);
    this.memberships = new StreamChangeCache(start.events);
    this.roomMembers = new StreamChangeCache(start.events);
    this.accountData = new StreamChangeCache(start.accountData);
    this.receipts = new StreamChangeCache(start.receipts);
  }

  /** Call with every change row, before the stream's position moves past it. */
  apply(change: StreamChange): void {
    if (change.stream === 'events') {
      for (const r of change.rooms ?? []) this.roomEvents.record(r, change.position);
      // Events rows name users only for membership events.
      for (const u of change.users ?? []) this.memberships.record(u, change.position);
      if (change.users?.length) for (const r of change.rooms ?? []) this.roomMembers.record(r, change.position);
    } else if (change.stream === 'account_data') {
      for (const u of change.users ?? []) this.accountData.record(u, change.position);
    } else if (change.stream === 'receipts') {
      for (const u of change.users ?? []) this.receipts.record(u, change.position);
    }
  }
}
