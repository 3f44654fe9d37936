/**
 * Presence in Postgres (`presence_stream`, migration 0007): each user's latest state, stamped with the
 * `presence` stream ID of its last announced change. The writer persists through here; every process
 * reads through here.
 */
import type { JsonObject } from '@hs/core';
import type { Sql, StreamWriter } from '@hs/storage';
import { formatPresence, isPresenceValue, type UserPresence } from './presence-state.ts';

interface PresenceRow {
  user_id: string;
  stream_id: number;
  state: string;
  status_msg: string | null;
  last_active_ts: number;
  last_federation_update_ts: number;
  last_user_sync_ts: number;
  currently_active: boolean;
}

function fromRow(r: PresenceRow): UserPresence {
  return {
    userId: r.user_id,
    state: isPresenceValue(r.state) ? r.state : 'offline',
    statusMsg: r.status_msg,
    lastActiveTs: r.last_active_ts,
    lastFederationUpdateTs: r.last_federation_update_ts,
    lastUserSyncTs: r.last_user_sync_ts,
    currentlyActive: r.currently_active,
  };
}

/**
 * Persist announced changes with fresh stream IDs; returns the highest ID used. `committed` runs after
 * the commit and before the IDs are released, so a notification it sends goes out with them.
 */
export async function persistPresence(
  sql: Sql,
  stream: StreamWriter,
  states: readonly UserPresence[],
  committed?: (position: number) => void,
): Promise<number> {
  if (states.length === 0) return stream.position;
  return stream.withIds(states.length, async (ids) => {
    const rows = states.map((s, i) => ({
      user_id: s.userId,
      stream_id: ids[i] as number,
      state: s.state,
      status_msg: s.statusMsg,
      last_active_ts: s.lastActiveTs,
      last_federation_update_ts: s.lastFederationUpdateTs,
      last_user_sync_ts: s.lastUserSyncTs,
      currently_active: s.currentlyActive,
    }));
    await sql`
      INSERT INTO presence_stream ${sql(rows)}
      ON CONFLICT (user_id) DO UPDATE SET
        stream_id = EXCLUDED.stream_id, state = EXCLUDED.state, status_msg = EXCLUDED.status_msg,
        last_active_ts = EXCLUDED.last_active_ts, last_federation_update_ts = EXCLUDED.last_federation_update_ts,
        last_user_sync_ts = EXCLUDED.last_user_sync_ts, currently_active = EXCLUDED.currently_active`;
    const position = ids[ids.length - 1] as number;
    committed?.(position);
    return position;
  });
}

/**
 * Save timestamps that changed without an announcement (sync times, small activity bumps) so a
 * restart does not lose them. The stream ID stays: readers have nothing new to see.
 */
export async function saveUnannounced(sql: Sql, states: readonly UserPresence[]): Promise<void> {
  if (states.length === 0) return;
  const users = states.map((s) => s.userId);
  const active = states.map((s) => s.lastActiveTs);
  const synced = states.map((s) => s.lastUserSyncTs);
  const fed = states.map((s) => s.lastFederationUpdateTs);
  await sql`
    UPDATE presence_stream p SET last_active_ts = v.a, last_user_sync_ts = v.s, last_federation_update_ts = v.f
    FROM unnest(${users}::text[], ${active}::bigint[], ${synced}::bigint[], ${fed}::bigint[]) AS v(u, a, s, f)
    WHERE p.user_id = v.u`;
}

/** Everyone not offline: what the writer reloads at start to resume their timers. */
export async function loadActivePresence(sql: Sql): Promise<UserPresence[]> {
  const rows = await sql<PresenceRow[]>`SELECT * FROM presence_stream WHERE state <> 'offline'`;
  return rows.map(fromRow);
}

export async function getPresence(sql: Sql, userId: string): Promise<UserPresence | null> {
  const [row] = await sql<PresenceRow[]>`SELECT * FROM presence_stream WHERE user_id = ${userId}`;
  return row ? fromRow(row) : null;
}

export interface PresenceEvent extends JsonObject {
  type: 'm.presence';
  sender: string;
  content: JsonObject;
}

/**
 * `m.presence` events for `userIds` whose presence changed in (fromStream, toStream]. Offline users
 * are left out of an initial sync (fromStream 0) unless `includeOffline`, as Synapse does.
 */
export async function getPresenceUpdates(
  sql: Sql,
  userIds: readonly string[],
  fromStream: number,
  toStream: number,
  opts: { now?: number; includeOffline?: boolean } = {},
): Promise<PresenceEvent[]> {
  if (userIds.length === 0 || fromStream >= toStream) return [];
  const includeOffline = opts.includeOffline ?? fromStream > 0;
  const rows = await sql<PresenceRow[]>`
    SELECT * FROM presence_stream
    WHERE user_id = ANY(${userIds as string[]}) AND stream_id > ${fromStream} AND stream_id <= ${toStream}
      ${includeOffline ? sql`` : sql`AND state <> 'offline'`}
    ORDER BY stream_id`;
  const now = opts.now ?? Date.now();
  return rows.map((r) => ({ type: 'm.presence', sender: r.user_id, content: formatPresence(fromRow(r), now) }));
}
