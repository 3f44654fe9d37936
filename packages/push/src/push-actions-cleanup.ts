/**
 * Periodic cleanup of `event_push_actions`. A row goes once every recipient still joined to the room
 * has read it (the counts' rule: an unthreaded receipt covers every thread, a threaded one its own;
 * users who left no longer count) and it is old enough — /notifications shows read notifications for
 * a while first, read highlights for longer (Synapse keeps them a day and a month). Rows somebody
 * has not read stay, as their counts need them; `maxAgeMs` drops even those past an age.
 * Run it from a timer on one process; each call does a bounded amount of work.
 */
import type { Sql } from '@hs/storage';
import { recipientNumbers } from './push-member-index.ts';
import { READ_RECEIPT_TYPES } from './unread-counts.ts';

export interface PushActionsCleanupOptions {
  /** Read notifications of events received less than this long ago stay. Default one day. */
  readonly readRetentionMs?: number;
  /** Read highlights stay this long. Default 30 days. */
  readonly highlightRetentionMs?: number;
  /** Rows older than this go even if unread (their counts with them). Default: never. */
  readonly maxAgeMs?: number;
  /** Rows examined per step. Default 5 000. */
  readonly batchSize?: number;
  /** At most this many steps per call (so one call stays short). Default 20. */
  readonly maxBatches?: number;
  readonly now?: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The highest stream ordering of an event received at or before `ts` (0 if none): a binary search over
 * the unique stream ordering index, as `received_ts` grows with it (closely enough for retention).
 */
export async function streamOrderingAtTime(sql: Sql, ts: number): Promise<number> {
  const [bounds] = await sql<{ lo: number | null; hi: number | null }[]>`SELECT min(stream_ordering) AS lo, max(stream_ordering) AS hi FROM events`;
  if (!bounds || bounds.lo === null || bounds.hi === null) return 0;
  let lo = Number(bounds.lo);
  let hi = Number(bounds.hi);
  const at = async (position: number): Promise<{ so: number; ts: number }> => {
    const [row] = await sql<{ stream_ordering: number; received_ts: number }[]>`
      SELECT stream_ordering, received_ts FROM events WHERE stream_ordering >= ${position} ORDER BY stream_ordering LIMIT 1`;
    return { so: Number(row?.stream_ordering), ts: Number(row?.received_ts) };
  };
  if ((await at(lo)).ts > ts) return 0;
  // Invariant: the event at `lo` was received at or before ts; everything above `hi` after it.
  while (lo < hi) {
    const mid = lo + Math.ceil((hi - lo) / 2);
    const hit = await at(mid);
    if (hit.ts <= ts) lo = hit.so;
    else hi = mid - 1;
  }
  return lo;
}

interface Candidate {
  room_id: string;
  stream_ordering: number;
  outcome: number;
  thread_id: string;
  highlight: boolean;
  recipients: Uint8Array;
}

/** Delete push actions past their retention (see above); resolves to the number of rows deleted. */
export async function deleteReadPushActions(sql: Sql, opts: PushActionsCleanupOptions = {}): Promise<number> {
  const now = opts.now ?? Date.now();
  const batch = opts.batchSize ?? 5_000;
  const maxBatches = opts.maxBatches ?? 20;
  const [readBound, highlightBound, ageBound] = await Promise.all([
    streamOrderingAtTime(sql, now - (opts.readRetentionMs ?? DAY_MS)),
    streamOrderingAtTime(sql, now - (opts.highlightRetentionMs ?? 30 * DAY_MS)),
    opts.maxAgeMs === undefined ? 0 : streamOrderingAtTime(sql, now - opts.maxAgeMs),
  ]);
  let total = 0;
  let steps = 0;
  while (ageBound > 0 && steps++ < maxBatches) {
    const gone = await sql`
      DELETE FROM event_push_actions WHERE (room_id, stream_ordering, outcome) IN (
        SELECT room_id, stream_ordering, outcome FROM event_push_actions WHERE stream_ordering <= ${ageBound}
         ORDER BY stream_ordering LIMIT ${batch})
      RETURNING 1`;
    total += gone.length;
    if (gone.length < batch) break;
  }

  // Walk the rows old enough, oldest first, deciding per row from its recipients' receipts.
  let cursor: [number, string, number] = [0, '', -1];
  while (readBound > 0 && steps++ < maxBatches) {
    const rows = await sql<Candidate[]>`
      SELECT room_id, stream_ordering, outcome, thread_id, highlight, recipients FROM event_push_actions
       WHERE stream_ordering <= ${readBound} AND stream_ordering >= ${cursor[0]}
         AND (stream_ordering, room_id, outcome) > (${cursor[0]}::bigint, ${cursor[1]}::text, ${cursor[2]}::smallint)
       ORDER BY stream_ordering, room_id, outcome LIMIT ${batch}`;
    if (rows.length === 0) break;
    const last = rows[rows.length - 1] as Candidate;
    cursor = [Number(last.stream_ordering), last.room_id, last.outcome];
    const rooms = [...new Set(rows.map((r) => r.room_id))];
    const [members, receipts] = await Promise.all([
      sql<{ room_id: string; idx: number; user_id: string; joined: boolean }[]>`
        SELECT m.room_id, m.idx, m.user_id, coalesce(l.membership = 'join', false) AS joined
          FROM push_room_members m LEFT JOIN local_current_membership l ON l.user_id = m.user_id AND l.room_id = m.room_id
         WHERE m.room_id = ANY(${rooms})`,
      sql<{ room_id: string; user_id: string; thread_id: string | null; so: number }[]>`
        SELECT room_id, user_id, thread_id, max(event_stream_ordering) AS so FROM receipts_linearized
         WHERE room_id = ANY(${rooms}) AND receipt_type = ANY(${READ_RECEIPT_TYPES as string[]}) AND event_stream_ordering IS NOT NULL
         GROUP BY room_id, user_id, thread_id`,
    ]);
    const joinedMember = new Map<string, string>();
    for (const m of members) if (m.joined) joinedMember.set(`${m.room_id}\u0000${m.idx}`, m.user_id);
    const readUpTo = new Map<string, number>();
    for (const r of receipts) readUpTo.set(`${r.room_id}\u0000${r.user_id}\u0000${r.thread_id ?? ''}`, Number(r.so));
    const doomed = rows.filter((row) => {
      const so = Number(row.stream_ordering);
      if (row.highlight && so > highlightBound) return false;
      for (const n of recipientNumbers(row.recipients)) {
        const userId = joinedMember.get(`${row.room_id}\u0000${n}`);
        if (userId === undefined) continue;
        const key = `${row.room_id}\u0000${userId}\u0000`;
        if (Math.max(readUpTo.get(key) ?? 0, readUpTo.get(key + row.thread_id) ?? 0) < so) return false;
      }
      return true;
    });
    if (doomed.length > 0) {
      const gone = await sql`
        DELETE FROM event_push_actions
         WHERE (room_id, stream_ordering, outcome) IN (
           SELECT * FROM unnest(${doomed.map((r) => r.room_id)}::text[], ${doomed.map((r) => r.stream_ordering)}::bigint[],
                                ${doomed.map((r) => r.outcome)}::smallint[]))
        RETURNING 1`;
      total += gone.length;
    }
    if (rows.length < batch) break;
  }
  return total;
}
