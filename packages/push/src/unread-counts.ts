/**
 * Notification counts (client-server API › Receipts › Threaded read receipts, and /sync's
 * `unread_notifications` / `unread_thread_notifications`): a user's push actions after their latest
 * read receipt. `m.read` and `m.read.private` both count, the later one wins. An unthreaded receipt
 * covers every thread up to its event; a threaded receipt covers only its own thread (`main` is the
 * main timeline), so a thread's counts start after the later of the two.
 *
 * One query for any number of rooms: per room a range scan of the room's push actions from the
 * user's unthreaded receipt on (primary key `(room_id, stream_ordering, …)`), keeping rows with the
 * user's recipient bit set; per-thread receipts filter what remains. The scan is as long as the
 * room's notifying events since that receipt — one row per event, whatever the room's size.
 */
import type { Sql } from '@hs/storage';
import { MAIN_THREAD_ID } from './event-threads.ts';

/** The receipt types that mark events read. */
export const READ_RECEIPT_TYPES: readonly string[] = ['m.read', 'm.read.private'];

export interface UnreadCounts {
  readonly notification_count: number;
  readonly highlight_count: number;
}

/** One room's counts: totals over every thread, the main timeline alone, and each thread with unread notifications. */
export interface RoomUnreadCounts extends UnreadCounts {
  readonly main: UnreadCounts;
  /** Thread root → counts; threads with nothing unread are absent. */
  readonly unread_thread_notifications: Readonly<Record<string, UnreadCounts>>;
}

const ZERO: UnreadCounts = Object.freeze({ notification_count: 0, highlight_count: 0 });

/**
 * Counts for each of `roomIds` (every room present, zeros where nothing is unread), over the push
 * actions of events at or below `upTo` when given (a /sync token's position) or all of them.
 */
export async function getUnreadCounts(sql: Sql, userId: string, roomIds: readonly string[], upTo?: number): Promise<Map<string, RoomUnreadCounts>> {
  const rooms = [...new Set(roomIds)];
  const out = new Map<string, RoomUnreadCounts>();
  if (rooms.length === 0) return out;
  const bound = upTo ?? Number.MAX_SAFE_INTEGER;
  const rows = await sql<{ room_id: string; thread_id: string; notifs: number; highlights: number }[]>`
    WITH mem AS (
      SELECT room_id, idx FROM push_room_members WHERE user_id = ${userId} AND room_id = ANY(${rooms})
    ), rec AS (
      SELECT room_id, thread_id, max(event_stream_ordering) AS so FROM receipts_linearized
       WHERE user_id = ${userId} AND room_id = ANY(${rooms}) AND receipt_type = ANY(${READ_RECEIPT_TYPES as string[]})
         AND event_stream_ordering IS NOT NULL
       GROUP BY room_id, thread_id
    )
    SELECT a.room_id, a.thread_id,
           count(*) FILTER (WHERE a.notif)::int AS notifs, count(*) FILTER (WHERE a.highlight)::int AS highlights
      FROM mem
      JOIN event_push_actions a
        ON a.room_id = mem.room_id
       AND a.stream_ordering > coalesce((SELECT so FROM rec WHERE rec.room_id = mem.room_id AND rec.thread_id IS NULL), 0)
      LEFT JOIN rec t ON t.room_id = a.room_id AND t.thread_id = a.thread_id
     WHERE (t.so IS NULL OR a.stream_ordering > t.so) AND a.stream_ordering <= ${bound}
       AND CASE WHEN octet_length(a.recipients) > mem.idx / 8 THEN get_bit(a.recipients, mem.idx) = 1 ELSE false END
     GROUP BY a.room_id, a.thread_id`;
  type CountRow = (typeof rows)[number];
  const byRoom = new Map<string, CountRow[]>();
  for (const r of rows) {
    let list = byRoom.get(r.room_id);
    if (!list) byRoom.set(r.room_id, (list = []));
    list.push(r);
  }
  for (const roomId of rooms) {
    let notifs = 0;
    let highlights = 0;
    let main = ZERO;
    const threads: Record<string, UnreadCounts> = {};
    for (const r of byRoom.get(roomId) ?? []) {
      notifs += r.notifs;
      highlights += r.highlights;
      const counts = { notification_count: r.notifs, highlight_count: r.highlights };
      if (r.thread_id === MAIN_THREAD_ID) main = counts;
      else threads[r.thread_id] = counts;
    }
    out.set(roomId, { notification_count: notifs, highlight_count: highlights, main, unread_thread_notifications: threads });
  }
  return out;
}

export interface PushReader {
  /** The user's recipient bit in the room's push actions (undefined: none assigned yet). */
  readonly bit: number | undefined;
  /** The highest bit the room had assigned (-1: none): a later row setting none above it numbers nobody new. */
  readonly top: number;
  /** The latest event the user's read receipts (of any thread) point at, as a stream position. */
  readonly readUpTo: number;
}

/** Per room: how the user appears in its push actions and how far they have read. */
export async function getPushReaders(sql: Sql, userId: string, roomIds: readonly string[]): Promise<Map<string, PushReader>> {
  if (roomIds.length === 0) return new Map();
  const rows = await sql<{ room_id: string; idx: number | null; top: number | null; read_up_to: number | null }[]>`
    SELECT r.room_id, m.idx,
           (SELECT max(idx) FROM push_room_members a WHERE a.room_id = r.room_id) AS top,
           (SELECT max(event_stream_ordering) FROM receipts_linearized l
             WHERE l.user_id = ${userId} AND l.room_id = r.room_id AND l.receipt_type = ANY(${READ_RECEIPT_TYPES as string[]})) AS read_up_to
      FROM unnest(${roomIds as string[]}::text[]) AS r(room_id)
      LEFT JOIN push_room_members m ON m.user_id = ${userId} AND m.room_id = r.room_id`;
  return new Map(
    rows.map((r) => [r.room_id, { bit: r.idx === null ? undefined : Number(r.idx), top: r.top === null ? -1 : Number(r.top), readUpTo: Number(r.read_up_to ?? 0) }]),
  );
}

/** What counting needs of one push action row (an event's outcome and who got it). */
export interface PushActionCountRow {
  readonly roomId: string;
  readonly streamOrdering: number;
  readonly threadId: string;
  readonly notif: boolean;
  readonly highlight: boolean;
  readonly recipients: Uint8Array;
}

/** Every room's push action rows for events in (from, to], ascending. */
export async function getPushActionsBetween(sql: Sql, from: number, to: number): Promise<PushActionCountRow[]> {
  const rows = await sql<{ room_id: string; stream_ordering: number; thread_id: string; notif: boolean; highlight: boolean; recipients: Uint8Array }[]>`
    SELECT room_id, stream_ordering, thread_id, notif, highlight, recipients FROM event_push_actions
     WHERE stream_ordering > ${from} AND stream_ordering <= ${to} ORDER BY stream_ordering`;
  return rows.map((r) => ({ roomId: r.room_id, streamOrdering: Number(r.stream_ordering), threadId: r.thread_id, notif: r.notif, highlight: r.highlight, recipients: r.recipients }));
}

/** Whether any recipient numbered above `top` is set. */
export function hasRecipientAbove(recipients: Uint8Array, top: number): boolean {
  const first = top + 1;
  for (let byte = first >> 3; byte < recipients.length; byte++) {
    let b = recipients[byte] as number;
    if (byte === first >> 3) b &= 0xff << (first & 7);
    if (b !== 0) return true;
  }
  return false;
}

/** Whether recipient number `bit` is set (as Postgres's get_bit reads a bytea: bit i of byte i / 8). */
export function hasRecipient(recipients: Uint8Array, bit: number): boolean {
  const byte = bit >> 3;
  return byte < recipients.length && ((recipients[byte] as number) & (1 << (bit & 7))) !== 0;
}

/**
 * A room's counts as /sync sends them: with thread notifications (the filter's
 * `unread_thread_notifications`), the main timeline's counts plus one entry per thread; without,
 * everything in one count.
 */
export function syncUnreadCounts(
  counts: RoomUnreadCounts | undefined,
  threaded: boolean,
): { unread_notifications: UnreadCounts; unread_thread_notifications?: Record<string, UnreadCounts> } {
  if (!counts) return threaded ? { unread_notifications: ZERO, unread_thread_notifications: {} } : { unread_notifications: ZERO };
  if (!threaded) return { unread_notifications: { notification_count: counts.notification_count, highlight_count: counts.highlight_count } };
  return { unread_notifications: counts.main, unread_thread_notifications: { ...counts.unread_thread_notifications } };
}
