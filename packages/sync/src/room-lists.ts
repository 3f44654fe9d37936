/**
 * Which rooms a sync covers and how (client-server-api › Syncing; Synapse's room-change rules where the
 * spec is silent): the user's memberships AT the token (local_current_membership, rewound through
 * room_memberships for the rare rows written after it), and for an incremental sync the user's own
 * membership events in (since, token]. A room joined in the window, or left after joining in it, is sent
 * in full; a room left in the window goes to `leave` with its timeline up to the leave.
 */
import type { Sql } from '@hs/storage';
import type { ResolvedPosition } from './positions.ts';
import { sqlAfter, sqlWithin } from './positions.ts';

export interface MembershipAt {
  readonly roomId: string;
  readonly eventId: string;
  readonly membership: string;
  readonly stream: number;
}

export interface LeftRoom extends MembershipAt {
  /** Send the room as if first seen (full state, timeline from the start) rather than as a delta since `since`. */
  readonly full: boolean;
}

export interface RoomLists {
  /** Rooms joined at the token → whether they are sent in full (initial sync, or joined in the window). */
  readonly joined: Map<string, boolean>;
  readonly invited: MembershipAt[];
  readonly knocked: MembershipAt[];
  readonly left: LeftRoom[];
}

interface Row {
  room_id: string;
  event_id: string;
  membership: string;
  stream_ordering: number;
}

const toAt = (r: Row): MembershipAt => ({ roomId: r.room_id, eventId: r.event_id, membership: r.membership, stream: Number(r.stream_ordering) });

/** The user's membership in every room as of `at` (forgotten rooms flagged). */
async function membershipsAt(sql: Sql, userId: string, at: ResolvedPosition): Promise<{ memberships: Map<string, MembershipAt>; forgotten: Set<string> }> {
  const rows = await sql<(Row & { forgotten: boolean })[]>`
    SELECT room_id, event_id, membership, stream_ordering, forgotten FROM local_current_membership WHERE user_id = ${userId}`;
  const memberships = new Map<string, MembershipAt>();
  const forgotten = new Set<string>();
  const later: string[] = [];
  for (const r of rows) {
    if (r.forgotten) forgotten.add(r.room_id);
    if (Number(r.stream_ordering) > at.min) later.push(r.room_id);
    else memberships.set(r.room_id, toAt(r));
  }
  if (later.length > 0) {
    // Written after (or possibly after) the token: what was the membership at it?
    const back = await sql<Row[]>`
      SELECT DISTINCT ON (m.room_id) m.room_id, m.event_id, m.membership, m.stream_ordering
      FROM room_memberships m JOIN events e ON e.event_id = m.event_id
      WHERE m.user_id = ${userId} AND m.room_id = ANY(${later}::text[]) AND ${sqlWithin(sql, at, 'm.stream_ordering', 'e.instance_name')}
      ORDER BY m.room_id, m.stream_ordering DESC`;
    for (const r of back) memberships.set(r.room_id, toAt(r));
  }
  return { memberships, forgotten };
}

export async function initialRoomLists(sql: Sql, userId: string, at: ResolvedPosition, includeLeave: boolean): Promise<RoomLists> {
  const { memberships, forgotten } = await membershipsAt(sql, userId, at);
  const lists: RoomLists = { joined: new Map(), invited: [], knocked: [], left: [] };
  for (const m of memberships.values()) {
    if (m.membership === 'join') lists.joined.set(m.roomId, true);
    else if (m.membership === 'invite') lists.invited.push(m);
    else if (m.membership === 'knock') lists.knocked.push(m);
    else if (includeLeave && (m.membership === 'leave' || m.membership === 'ban') && !forgotten.has(m.roomId)) lists.left.push({ ...m, full: true });
  }
  return lists;
}

export async function incrementalRoomLists(sql: Sql, userId: string, since: ResolvedPosition, at: ResolvedPosition): Promise<RoomLists> {
  const [{ memberships, forgotten }, changes] = await Promise.all([
    membershipsAt(sql, userId, at),
    at.max > since.min
      ? sql<(Row & { instance_name: string })[]>`
          SELECT m.room_id, m.event_id, m.membership, m.stream_ordering, e.instance_name
          FROM room_memberships m JOIN events e ON e.event_id = m.event_id
          WHERE m.user_id = ${userId} AND m.stream_ordering > ${since.min} AND m.stream_ordering <= ${at.max}
            AND ${sqlWithin(sql, at, 'm.stream_ordering', 'e.instance_name')}
            AND ${sqlAfter(sql, since, 'm.stream_ordering', 'e.instance_name')}
          ORDER BY m.stream_ordering`
      : Promise.resolve([]),
  ]);
  const changedRooms = new Map<string, Row[]>();
  for (const c of changes) {
    const list = changedRooms.get(c.room_id);
    if (list) list.push(c);
    else changedRooms.set(c.room_id, [c]);
  }
  const before = new Map<string, string>();
  if (changedRooms.size > 0) {
    const rows = await sql<{ room_id: string; membership: string }[]>`
      SELECT DISTINCT ON (m.room_id) m.room_id, m.membership
      FROM room_memberships m JOIN events e ON e.event_id = m.event_id
      WHERE m.user_id = ${userId} AND m.room_id = ANY(${[...changedRooms.keys()]}::text[])
        AND ${sqlWithin(sql, since, 'm.stream_ordering', 'e.instance_name')}
      ORDER BY m.room_id, m.stream_ordering DESC`;
    for (const r of rows) before.set(r.room_id, r.membership);
  }
  const lists: RoomLists = { joined: new Map(), invited: [], knocked: [], left: [] };
  for (const m of memberships.values()) {
    if (m.membership === 'join') lists.joined.set(m.roomId, changedRooms.has(m.roomId) && before.get(m.roomId) !== 'join');
  }
  for (const [roomId, list] of changedRooms) {
    const now = memberships.get(roomId);
    if (!now || now.membership === 'join') continue;
    if (now.membership === 'invite') lists.invited.push(now);
    else if (now.membership === 'knock') lists.knocked.push(now);
    else if ((now.membership === 'leave' || now.membership === 'ban') && !forgotten.has(roomId)) {
      const joinedInWindow = list.some((c) => c.membership === 'join');
      lists.left.push({ ...now, full: joinedInWindow && before.get(roomId) !== 'join' });
    }
  }
  return lists;
}
