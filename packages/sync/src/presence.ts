/**
 * The `presence` section: presence of users who share a joined room with the user (and the user's own).
 * An initial sync sends everyone's current presence except offline users; an incremental one sends
 * changes since `since` — found from the presence stream first (usually a handful of rows), then kept
 * to users sharing a room — plus the current presence of members of rooms joined in the window.
 */
import type { PresenceEvent } from '@hs/ephemeral';
import { getPresenceUpdates } from '@hs/ephemeral';
import type { Sql } from '@hs/storage';

async function membersOf(sql: Sql, roomIds: readonly string[], among?: readonly string[]): Promise<string[]> {
  if (roomIds.length === 0 || (among && among.length === 0)) return [];
  const rows = among
    ? await sql<{ state_key: string }[]>`
        SELECT DISTINCT state_key FROM current_state_events
        WHERE room_id = ANY(${roomIds as string[]}::text[]) AND type = 'm.room.member' AND membership = 'join'
          AND state_key = ANY(${among as string[]}::text[])`
    : await sql<{ state_key: string }[]>`
        SELECT DISTINCT state_key FROM current_state_events
        WHERE room_id = ANY(${roomIds as string[]}::text[]) AND type = 'm.room.member' AND membership = 'join'`;
  return rows.map((r) => r.state_key);
}

export interface PresenceWindow {
  /** Exclusive lower bound; undefined for an initial sync. */
  readonly from: number | undefined;
  readonly to: number;
}

export async function presenceSection(
  sql: Sql,
  userId: string,
  joinedRooms: readonly string[],
  newlyJoinedRooms: readonly string[],
  w: PresenceWindow,
  now: number,
): Promise<PresenceEvent[]> {
  if (w.from === undefined) {
    const users = new Set(await membersOf(sql, joinedRooms));
    users.add(userId);
    return getPresenceUpdates(sql, [...users], 0, w.to, { now });
  }
  const bySender = new Map<string, PresenceEvent>();
  if (newlyJoinedRooms.length > 0) {
    for (const e of await getPresenceUpdates(sql, await membersOf(sql, newlyJoinedRooms), 0, w.to, { now })) bySender.set(e.sender, e);
  }
  if (w.to > w.from) {
    const changed = (
      await sql<{ user_id: string }[]>`SELECT user_id FROM presence_stream WHERE stream_id > ${w.from} AND stream_id <= ${w.to}`
    ).map((r) => r.user_id);
    if (changed.length > 0) {
      const visible = new Set(await membersOf(sql, joinedRooms, changed));
      if (changed.includes(userId)) visible.add(userId);
      for (const e of await getPresenceUpdates(sql, [...visible], w.from, w.to, { now, includeOffline: true })) bySender.set(e.sender, e);
    }
  }
  return [...bySender.values()];
}
