/**
 * Room timelines for /sync, every room in one query per round: the newest events of each room inside
 * its window, with the timeline filter (types, senders, contains_url) and ignored senders applied in
 * SQL so that limits count only events the client can get. History visibility runs over the whole batch
 * (rooms' `filterEventsForUser`); a room that lost events to it is topped up from older events, at most
 * three rounds, as Synapse does. `limited` says events were left out.
 */
import type { EventRow, EventStore, StoredEvent, VisibleEvent } from '@hs/rooms';
import { filterEventsForUser, redactedBySql, rowToStoredEvent } from '@hs/rooms';
import type { Sql } from '@hs/storage';
import type { RoomEventFilter } from './filter.ts';
import { globToLike } from './filter.ts';
import type { ResolvedPosition } from './positions.ts';
import { sqlAfter, sqlWithin } from './positions.ts';

export interface TimelineRequest {
  readonly roomId: string;
  /** Events after this position only (an incremental sync); undefined: from the room's beginning. */
  readonly since?: ResolvedPosition;
  /** Events at or before this stream ID only (the user's leave event), on top of the token. */
  readonly cap?: number;
  /** Report `limited` even when everything fitted (a room joined in the window, as Synapse does). */
  readonly forceLimited?: boolean;
}

export interface RoomTimeline {
  /** Oldest first. */
  readonly events: VisibleEvent[];
  readonly limited: boolean;
}

const MAX_ROUNDS = 3;

function filterSql(sql: Sql, f: RoomEventFilter, ignored: readonly string[]) {
  let cond = sql`true`;
  if (f.types !== undefined) cond = f.types.length === 0 ? sql`false` : sql`${cond} AND e.type LIKE ANY(${f.types.map(globToLike)}::text[])`;
  if (f.notTypes.length > 0) cond = sql`${cond} AND NOT (e.type LIKE ANY(${f.notTypes.map(globToLike)}::text[]))`;
  if (f.senders !== undefined) cond = f.senders.length === 0 ? sql`false` : sql`${cond} AND e.sender = ANY(${f.senders as string[]}::text[])`;
  if (f.notSenders.length > 0) cond = sql`${cond} AND e.sender <> ALL(${f.notSenders as string[]}::text[])`;
  if (f.containsUrl !== undefined) cond = sql`${cond} AND e.contains_url = ${f.containsUrl}`;
  // Ignored users' state events still count (the spec: state must stay consistent).
  if (ignored.length > 0) cond = sql`${cond} AND (e.state_key IS NOT NULL OR e.sender <> ALL(${ignored as string[]}::text[]))`;
  return cond;
}

interface Window {
  readonly req: TimelineRequest;
  /** Inclusive upper stream bound of the next round. */
  hi: number;
  readonly visible: VisibleEvent[];
  /** The last round came back full: there may be more. */
  more: boolean;
}

export async function loadTimelines(
  sql: Sql,
  store: EventStore,
  userId: string,
  requests: readonly TimelineRequest[],
  token: ResolvedPosition,
  filter: RoomEventFilter,
  limit: number,
  ignored: readonly string[],
): Promise<Map<string, RoomTimeline>> {
  const fetchN = limit + 1;
  const windows: Window[] = requests.map((req) => ({ req, hi: Math.min(req.cap ?? token.max, token.max), visible: [], more: false }));
  let pending = windows;
  for (let round = 0; round < MAX_ROUNDS && pending.length > 0; round++) {
    const fetched = await fetchRound(sql, pending, token, filter, ignored, fetchN);
    const all: StoredEvent[] = [];
    for (const list of fetched.values()) all.push(...list);
    const visible = await visibleTo(store, userId, all);
    const next: Window[] = [];
    for (const w of pending) {
      const rows = fetched.get(w.req.roomId) ?? [];
      for (const ev of rows) {
        const v = visible.get(ev.eventId);
        if (v) w.visible.push(v);
      }
      w.more = rows.length === fetchN;
      const oldest = rows[rows.length - 1];
      if (w.visible.length < limit && w.more && oldest) {
        w.hi = oldest.streamOrdering - 1;
        next.push(w);
      }
    }
    pending = next;
  }
  const out = new Map<string, RoomTimeline>();
  for (const w of windows) {
    // `visible` is newest first; keep the newest `limit`, oldest first.
    const kept = w.visible.slice(0, limit).reverse();
    out.set(w.req.roomId, { events: kept, limited: w.req.forceLimited === true || w.visible.length > limit || w.more });
  }
  return out;
}

/** One round: the newest `n` matching events of each window, newest first. */
async function fetchRound(sql: Sql, windows: readonly Window[], token: ResolvedPosition, filter: RoomEventFilter, ignored: readonly string[], n: number): Promise<Map<string, StoredEvent[]>> {
  const rooms = windows.map((w) => w.req.roomId);
  const lo = windows.map((w) => w.req.since?.min ?? 0);
  const hi = windows.map((w) => w.hi);
  const out = new Map<string, StoredEvent[]>();
  // Windows share one `since` (the request's) or have none; its writers ahead of `min` need the exact test.
  const since = windows.find((w) => w.req.since !== undefined)?.req.since;
  const useSince = windows.map((w) => (w.req.since !== undefined ? 1 : 0));
  const afterSince = since && since.ahead.size > 0 ? sqlAfter(sql, since, 'e.stream_ordering', 'e.instance_name') : sql`true`;
  const rows = await sql<(EventRow & { window_room: string })[]>`
    SELECT r.room_id AS window_room, x.*, rv.room_version
    FROM unnest(${rooms}::text[], ${lo}::bigint[], ${hi}::bigint[], ${useSince}::int[]) AS r(room_id, lo, hi, use_since)
    LEFT JOIN rooms rv ON rv.room_id = r.room_id
    CROSS JOIN LATERAL (
      SELECT e.event_id, e.room_id, e.type, e.state_key, e.sender, e.origin_server_ts, e.received_ts,
             e.stream_ordering, e.topological_ordering, e.membership, e.redacts, e.replaces_state,
             e.rejected_reason, e.outlier, e.txn_id, e.txn_scope, e.json,
             ${redactedBySql(sql)} AS redacted_by
      FROM events e
      WHERE e.room_id = r.room_id AND e.stream_ordering > r.lo AND e.stream_ordering <= r.hi
        AND NOT e.outlier AND e.rejected_reason IS NULL
        AND ${sqlWithin(sql, token, 'e.stream_ordering', 'e.instance_name')}
        AND (r.use_since = 0 OR ${afterSince})
        AND ${filterSql(sql, filter, ignored)}
      ORDER BY e.stream_ordering DESC LIMIT ${n}
    ) AS x
    ORDER BY r.room_id, x.stream_ordering DESC`;
  for (const r of rows) {
    const ev = rowToStoredEvent(r);
    const list = out.get(r.window_room);
    if (list) list.push(ev);
    else out.set(r.window_room, [ev]);
  }
  return out;
}

/**
 * History visibility for a batch, plus one rule of Synapse's: users always see their own membership
 * events (so a rejected invite or a kick shows up in the room they can no longer read).
 */
async function visibleTo(store: EventStore, userId: string, events: readonly StoredEvent[]): Promise<Map<string, VisibleEvent>> {
  const out = new Map<string, VisibleEvent>();
  if (events.length === 0) return out;
  for (const v of await filterEventsForUser(store, userId, events)) out.set(v.event.eventId, v);
  for (const ev of events) {
    if (!out.has(ev.eventId) && ev.type === 'm.room.member' && ev.stateKey === userId) out.set(ev.eventId, { event: ev, membership: ev.membership ?? 'leave' });
  }
  return out;
}
