/**
 * Reading push actions back per user. `event_push_actions` holds one row per event and outcome with
 * its recipients as a bitmap; a user's bit in a room is their `push_room_members` number. These
 * readers serve /notifications, the pusher (a user's push actions in a stream range) and debugging.
 */
import type { Sql } from '@hs/storage';
import { recipientNumbers } from './push-member-index.ts';
import type { PushAction } from './push-rule-types.ts';

export interface UserPushAction {
  readonly roomId: string;
  readonly eventId: string;
  readonly streamOrdering: number;
  readonly topologicalOrdering: number;
  readonly threadId: string;
  readonly notify: boolean;
  readonly highlight: boolean;
  readonly actions: PushAction[];
}

export interface UserPushActionsQuery {
  /** Newest first, or oldest first (the pusher's catch-up); either way below `before` and above `after`. */
  readonly order: 'newest' | 'oldest';
  readonly before?: number;
  readonly after?: number;
  /** Inclusive upper bound for `oldest` (the events stream position that is safe to read). */
  readonly upTo?: number;
  readonly limit: number;
  /** Only actions that notify (what /notifications lists); default false. */
  readonly onlyNotify?: boolean;
  readonly onlyHighlight?: boolean;
}

interface Row {
  room_id: string;
  event_id: string;
  stream_ordering: number;
  topological_ordering: number;
  thread_id: string;
  notif: boolean;
  highlight: boolean;
  actions: string;
}

const toAction = (r: Row): UserPushAction => ({
  roomId: r.room_id,
  eventId: r.event_id,
  streamOrdering: Number(r.stream_ordering),
  topologicalOrdering: Number(r.topological_ordering),
  threadId: r.thread_id,
  notify: r.notif,
  highlight: r.highlight,
  actions: JSON.parse(r.actions) as PushAction[],
});

/**
 * A user's push actions across every room they were ever numbered in, by stream order: per room an
 * index range scan (the partial highlight index for `onlyHighlight`) testing their bit, merged.
 */
export async function getUserPushActions(sql: Sql, userId: string, q: UserPushActionsQuery): Promise<UserPushAction[]> {
  if (q.limit <= 0) return [];
  const newest = q.order === 'newest';
  const low = q.after ?? 0;
  const high = Math.min(q.before ?? Number.MAX_SAFE_INTEGER, q.upTo === undefined ? Number.MAX_SAFE_INTEGER : q.upTo + 1);
  const onlyNotify = q.onlyNotify === true;
  const onlyHighlight = q.onlyHighlight === true;
  // The bit test is guarded: get_bit fails past the end of a bitmap stored before the user's number existed.
  const rows = await sql<Row[]>`
    SELECT x.* FROM push_room_members m
    CROSS JOIN LATERAL (
      SELECT a.room_id, a.event_id, a.stream_ordering, a.topological_ordering, a.thread_id, a.notif, a.highlight, a.actions
        FROM event_push_actions a
       WHERE a.room_id = m.room_id AND a.stream_ordering > ${low} AND a.stream_ordering < ${high}
         AND (a.highlight OR NOT ${onlyHighlight}) AND (a.notif OR NOT ${onlyNotify})
         AND CASE WHEN octet_length(a.recipients) > m.idx / 8 THEN get_bit(a.recipients, m.idx) = 1 ELSE false END
       ORDER BY ${newest ? sql`a.stream_ordering DESC` : sql`a.stream_ordering`}
       LIMIT ${q.limit}) x
    WHERE m.user_id = ${userId}
    ORDER BY ${newest ? sql`x.stream_ordering DESC` : sql`x.stream_ordering`}
    LIMIT ${q.limit}`;
  return rows.map(toAction);
}

export interface RecipientPushAction {
  readonly threadId: string;
  readonly notify: boolean;
  readonly highlight: boolean;
  readonly actions: PushAction[];
}

/** Who an event notified or highlighted, and how (user → outcome). */
export async function getPushActionsForEvent(sql: Sql, eventId: string): Promise<Map<string, RecipientPushAction>> {
  const rows = await sql<{ room_id: string; thread_id: string; notif: boolean; highlight: boolean; actions: string; recipients: Uint8Array }[]>`
    SELECT a.room_id, a.thread_id, a.notif, a.highlight, a.actions, a.recipients
      FROM events e JOIN event_push_actions a ON a.room_id = e.room_id AND a.stream_ordering = e.stream_ordering
     WHERE e.event_id = ${eventId}`;
  const out = new Map<string, RecipientPushAction>();
  if (rows.length === 0) return out;
  const members = await sql<{ user_id: string; idx: number }[]>`
    SELECT user_id, idx FROM push_room_members WHERE room_id = ${(rows[0] as { room_id: string }).room_id}`;
  const byNumber = new Map(members.map((m) => [m.idx, m.user_id]));
  for (const r of rows) {
    const outcome = { threadId: r.thread_id, notify: r.notif, highlight: r.highlight, actions: JSON.parse(r.actions) as PushAction[] };
    for (const n of recipientNumbers(r.recipients)) {
      const userId = byNumber.get(n);
      if (userId !== undefined) out.set(userId, outcome);
    }
  }
  return out;
}
