/**
 * GET /notifications: a user's notifications (push actions that notified), newest first, with the
 * event in client format and whether a read receipt covers it (the counts' rule: unthreaded receipts
 * cover every thread, threaded ones their own). Pages by stream ordering: `next_token` is the stream
 * ordering of the last notification returned, and the next page starts below it.
 */
import type { JsonObject } from '@hs/core';
import { loadEventsForClient, serializeEvent, type ClientRequester, type EventStore } from '@hs/rooms';
import type { Sql } from '@hs/storage';
import { getUserPushActions, type UserPushAction } from './push-actions-store.ts';
import { READ_RECEIPT_TYPES } from './unread-counts.ts';

export interface NotificationsPage {
  readonly notifications: JsonObject[];
  readonly next_token?: string;
}

export interface NotificationsQuery {
  /** Only notifications below this stream ordering (the previous page's `next_token`). */
  readonly before?: number;
  /** Only notifications above this stream ordering (how far back the list goes). */
  readonly after?: number;
  readonly limit: number;
  readonly onlyHighlight: boolean;
  readonly requester: ClientRequester;
  readonly now?: number;
}

export async function getNotifications(sql: Sql, store: EventStore, userId: string, q: NotificationsQuery): Promise<NotificationsPage> {
  if (q.limit <= 0) return { notifications: [] };
  const rows = await getUserPushActions(sql, userId, {
    order: 'newest',
    ...(q.before !== undefined ? { before: q.before } : {}),
    ...(q.after !== undefined ? { after: q.after } : {}),
    limit: q.limit,
    onlyNotify: true,
    onlyHighlight: q.onlyHighlight,
  });
  if (rows.length === 0) return { notifications: [] };

  const roomIds = [...new Set(rows.map((r) => r.roomId))];
  const [sources, receipts] = await Promise.all([
    loadEventsForClient(store, rows.map((r) => r.eventId)),
    sql<{ room_id: string; thread_id: string | null; so: number }[]>`
      SELECT room_id, thread_id, max(event_stream_ordering) AS so FROM receipts_linearized
       WHERE user_id = ${userId} AND room_id = ANY(${roomIds}) AND receipt_type = ANY(${READ_RECEIPT_TYPES as string[]})
         AND event_stream_ordering IS NOT NULL
       GROUP BY room_id, thread_id`,
  ]);
  const readUpTo = new Map<string, number>();
  for (const r of receipts) readUpTo.set(`${r.room_id}\u0000${r.thread_id ?? ''}`, Number(r.so));
  const isRead = (row: UserPushAction): boolean => {
    const unthreaded = readUpTo.get(`${row.roomId}\u0000`) ?? 0;
    const threaded = readUpTo.get(`${row.roomId}\u0000${row.threadId}`) ?? 0;
    return Math.max(unthreaded, threaded) >= row.streamOrdering;
  };
  const byId = new Map(sources.map((s) => [s.event.eventId, s]));
  const now = q.now ?? Date.now();
  const notifications: JsonObject[] = [];
  for (const row of rows) {
    const src = byId.get(row.eventId);
    if (!src) continue;
    notifications.push({
      actions: row.actions as JsonObject[],
      event: serializeEvent(src, 'sync', { requester: q.requester, now }),
      read: isRead(row),
      room_id: row.roomId,
      ts: src.event.receivedTs,
    });
  }
  const last = rows[rows.length - 1] as UserPushAction;
  return rows.length === q.limit ? { notifications, next_token: String(last.streamOrdering) } : { notifications };
}
