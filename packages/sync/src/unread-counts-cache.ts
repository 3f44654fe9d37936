/**
 * Notification counts for /sync kept per (user, room) at an events position and moved forward in
 * memory: the push action rows of newer events come from the room timeline cache (read once for
 * everybody), so a user whose receipts did not change gets their counts without a query. Anything
 * the memory cannot vouch for — a receipt since, a window the timeline cache no longer holds, a user
 * without a recipient bit yet — is counted by Postgres again, up to the token's position exactly.
 */
import type { PushReader, RoomUnreadCounts, UnreadCounts } from '@hs/push';
import { getPushReaders, getUnreadCounts, hasRecipient, hasRecipientAbove, MAIN_THREAD_ID } from '@hs/push';
import type { Sql } from '@hs/storage';
import type { RoomTimelineCache } from './room-timeline-cache.ts';
import type { StreamChangeCache } from './stream-change-cache.ts';

interface Entry {
  /** Counted over push actions of events at or below this position. */
  pos: number;
  /** Receipts as of this receipts position. */
  readonly receiptsPos: number;
  readonly reader: PushReader;
  counts: RoomUnreadCounts;
}

export interface CountsPosition {
  /** A plain events position (no writer ahead), or undefined to count without caching. */
  readonly events: number | undefined;
  /** The receipts position the token includes (its lowest writer). */
  readonly receipts: number;
}

const add = (c: UnreadCounts, notif: boolean, highlight: boolean): UnreadCounts => ({
  notification_count: c.notification_count + (notif ? 1 : 0),
  highlight_count: c.highlight_count + (highlight ? 1 : 0),
});
const ZERO: UnreadCounts = { notification_count: 0, highlight_count: 0 };

export class UnreadCountsCache {
  private readonly sql: Sql;
  private readonly timeline: RoomTimelineCache;
  private readonly receipts: StreamChangeCache;
  private readonly maxEntries: number;
  private readonly entries = new Map<string, Entry>();
  readonly stats = { hits: 0, misses: 0 };

  constructor(opts: { sql: Sql; timeline: RoomTimelineCache; receipts: StreamChangeCache; maxEntries?: number }) {
    this.sql = opts.sql;
    this.timeline = opts.timeline;
    this.receipts = opts.receipts;
    this.maxEntries = opts.maxEntries ?? 200_000;
  }

  async get(userId: string, roomIds: readonly string[], at: CountsPosition): Promise<Map<string, RoomUnreadCounts>> {
    const to = at.events;
    if (to === undefined) return getUnreadCounts(this.sql, userId, roomIds);
    await this.timeline.advanceTo(to);
    const out = new Map<string, RoomUnreadCounts>();
    const missing: string[] = [];
    const receiptsMoved = this.receipts.changedSince.bind(this.receipts, userId);
    for (const roomId of roomIds) {
      const entry = this.entries.get(`${userId}\u0000${roomId}`);
      const counts = entry && receiptsMoved(entry.receiptsPos) === false ? this.forward(entry, roomId, to) : undefined;
      if (counts) out.set(roomId, counts);
      else missing.push(roomId);
    }
    this.stats.hits += roomIds.length - missing.length;
    this.stats.misses += missing.length;
    if (missing.length === 0) return out;
    const [counted, readers] = await Promise.all([getUnreadCounts(this.sql, userId, missing, to), getPushReaders(this.sql, userId, missing)]);
    for (const roomId of missing) {
      const counts = counted.get(roomId) as RoomUnreadCounts;
      out.set(roomId, counts);
      const reader = readers.get(roomId);
      // New rows can only be added on if every receipt is behind them (else some would count as read).
      if (reader && reader.readUpTo <= to) this.remember(`${userId}\u0000${roomId}`, { pos: to, receiptsPos: at.receipts, reader, counts });
    }
    return out;
  }

  /** The entry's counts moved on to `to` with the timeline cache's push actions, or undefined. */
  private forward(entry: Entry, roomId: string, to: number): RoomUnreadCounts | undefined {
    if (entry.pos === to) return entry.counts;
    if (entry.pos > to) return undefined;
    const tail = this.timeline.tail(roomId, entry.pos, to);
    if (!tail) return undefined;
    let counts = entry.counts;
    for (const a of tail.actions) {
      if (a.streamOrdering <= entry.pos || a.streamOrdering > to) continue;
      const bit = entry.reader.bit;
      if (bit === undefined) {
        // Not numbered in the room yet: only a row numbering someone new may have numbered them.
        if (hasRecipientAbove(a.recipients, entry.reader.top)) return undefined;
        continue;
      }
      if (!hasRecipient(a.recipients, bit)) continue;
      const main = a.threadId === MAIN_THREAD_ID;
      const threads = main ? counts.unread_thread_notifications : { ...counts.unread_thread_notifications, [a.threadId]: add(counts.unread_thread_notifications[a.threadId] ?? ZERO, a.notif, a.highlight) };
      counts = {
        notification_count: counts.notification_count + (a.notif ? 1 : 0),
        highlight_count: counts.highlight_count + (a.highlight ? 1 : 0),
        main: main ? add(counts.main, a.notif, a.highlight) : counts.main,
        unread_thread_notifications: threads,
      };
    }
    entry.counts = counts;
    entry.pos = to;
    return counts;
  }

  private remember(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }
}
