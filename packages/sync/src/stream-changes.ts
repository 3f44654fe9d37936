/**
 * What changed on a stream between two positions, read back from Postgres, in the shape writers
 * announce it: one row per stream ID naming the rooms and users to wake. Followers use it to catch up
 * when the bus lost an announcement (or a process started behind), so a notification is never missed.
 *
 * Only `events` records which writer wrote a row; on other streams the range is read whole, which at
 * worst wakes a long-poll twice for another writer's rows (harmless: it recomputes and waits again).
 */
import type { Sql } from '@hs/storage';

export interface ChangeRow {
  readonly id: number;
  readonly rooms?: string[];
  readonly users?: string[];
}

/** Rows per catch-up query: a long outage is caught up in slices. */
const SLICE = 2000;

export interface ChangeSlice {
  readonly rows: ChangeRow[];
  /** Everything in (from, upTo] has been read. */
  readonly upTo: number;
}

type Reader = (sql: Sql, writer: string, from: number, to: number) => Promise<Array<{ id: number; room?: string | null; user?: string | null }>>;

const readers: Record<string, Reader> = {
  events: (sql, writer, from, to) => sql`
    SELECT stream_ordering AS id, room_id AS room, CASE WHEN type = 'm.room.member' THEN state_key END AS user
    FROM events WHERE instance_name = ${writer} AND stream_ordering > ${from} AND stream_ordering <= ${to}
    ORDER BY stream_ordering LIMIT ${SLICE}`,
  receipts: (sql, _w, from, to) => sql`
    SELECT stream_id AS id, room_id AS room, user_id AS user FROM receipts_linearized
    WHERE stream_id > ${from} AND stream_id <= ${to} ORDER BY stream_id LIMIT ${SLICE}`,
  to_device: (sql, _w, from, to) => sql`
    SELECT DISTINCT stream_id AS id, user_id AS user FROM device_inbox
    WHERE stream_id > ${from} AND stream_id <= ${to} ORDER BY stream_id LIMIT ${SLICE}`,
  account_data: (sql, _w, from, to) => sql`
    SELECT * FROM (
      SELECT stream_id AS id, user_id AS user FROM account_data WHERE stream_id > ${from} AND stream_id <= ${to}
      UNION SELECT stream_id, user_id FROM room_account_data WHERE stream_id > ${from} AND stream_id <= ${to}
      UNION SELECT stream_id, user_id FROM room_tags_revisions WHERE stream_id > ${from} AND stream_id <= ${to}
    ) x ORDER BY id LIMIT ${SLICE}`,
  presence: (sql, _w, from, to) => sql`
    SELECT stream_id AS id, user_id AS user FROM presence_stream
    WHERE stream_id > ${from} AND stream_id <= ${to} ORDER BY stream_id LIMIT ${SLICE}`,
  push_rules: (sql, _w, from, to) => sql`
    SELECT stream_id AS id, user_id AS user FROM push_rules_stream
    WHERE stream_id > ${from} AND stream_id <= ${to} ORDER BY stream_id LIMIT ${SLICE}`,
  device_lists: (sql, _w, from, to) => sql`
    SELECT * FROM (
      SELECT DISTINCT stream_id AS id, user_id AS user FROM device_lists_stream WHERE stream_id > ${from} AND stream_id <= ${to}
      UNION SELECT stream_id, from_user_id FROM user_signature_stream WHERE stream_id > ${from} AND stream_id <= ${to}
    ) x ORDER BY id LIMIT ${SLICE}`,
  pushers: (sql, _w, from, to) => sql`
    SELECT * FROM (
      SELECT stream_id AS id, user_id AS user FROM pushers WHERE stream_id > ${from} AND stream_id <= ${to}
      UNION SELECT stream_id, user_id FROM deleted_pushers WHERE stream_id > ${from} AND stream_id <= ${to}
    ) x ORDER BY id LIMIT ${SLICE}`,
};

/** Streams whose changes can be read back (every persisted stream; typing lives in memory). */
export const CATCH_UP_STREAMS: readonly string[] = Object.keys(readers);

/** The changes of `writer` on `stream` in (from, to], possibly only up to `upTo` when there are many. */
export async function readStreamChanges(sql: Sql, stream: string, writer: string, from: number, to: number): Promise<ChangeSlice> {
  const read = readers[stream];
  if (!read) throw new Error(`no catch-up source for stream ${stream}`);
  const raw = await read(sql, writer, from, to);
  const byId = new Map<number, { rooms: Set<string>; users: Set<string> }>();
  for (const r of raw) {
    const id = Number(r.id);
    let entry = byId.get(id);
    if (!entry) byId.set(id, (entry = { rooms: new Set(), users: new Set() }));
    if (r.room) entry.rooms.add(r.room);
    if (r.user) entry.users.add(r.user);
  }
  const rows: ChangeRow[] = [...byId].map(([id, e]) => ({
    id,
    ...(e.rooms.size > 0 ? { rooms: [...e.rooms] } : {}),
    ...(e.users.size > 0 ? { users: [...e.users] } : {}),
  }));
  // A full slice may stop inside an ID's rows: claim only what is complete.
  const complete = raw.length < SLICE;
  const last = rows[rows.length - 1];
  if (complete || !last) return { rows, upTo: to };
  const upTo = last.id - 1;
  return upTo > from ? { rows: rows.filter((r) => r.id <= upTo), upTo } : { rows, upTo: last.id };
}
