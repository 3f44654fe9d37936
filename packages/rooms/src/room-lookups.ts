/**
 * Room facts other domains ask about (receipts, presence, account data, e2ee), answered from the rooms
 * tables with single indexed queries. Other packages take these as narrow functions in their deps, so
 * they never import the rooms package.
 */
import { maxPosition, type MultiWriterPosition } from '@hs/core';
import type { Sql } from '@hs/storage';
import type { EventStore } from './event-store.ts';
import { filterEventsForUser } from './visibility.ts';

export interface SharingChanges {
  readonly joined: readonly string[];
  readonly left: readonly string[];
}

export class RoomLookups {
  private readonly sql: Sql;
  private readonly store: EventStore;

  constructor(sql: Sql, store: EventStore) {
    this.sql = sql;
    this.store = store;
  }

  /** Every lookup as a bound function, to spread into the deps of the domains that ask for them. */
  bound() {
    return {
      roomExists: (roomId: string) => this.roomExists(roomId),
      isJoined: (roomId: string, userId: string) => this.isJoined(roomId, userId),
      canSeeEvent: (userId: string, roomId: string, eventId: string) => this.canSeeEvent(userId, roomId, eventId),
      getEventStreamOrdering: (roomId: string, eventId: string) => this.getEventStreamOrdering(roomId, eventId),
      isEventInThread: (roomId: string, eventId: string, threadId: string) => this.isEventInThread(roomId, eventId, threadId),
      sharesRoomWith: (a: string, b: string) => this.sharesRoomWith(a, b),
      getUsersSharingRoomWith: (userId: string) => this.getUsersSharingRoomWith(userId),
      getSharingChangesBetween: (userId: string, from: MultiWriterPosition, to: MultiWriterPosition) =>
        this.getSharingChangesBetween(userId, from, to),
    };
  }

  async roomExists(roomId: string): Promise<boolean> {
    const rows = await this.sql`SELECT 1 FROM rooms WHERE room_id = ${roomId}`;
    return rows.length > 0;
  }

  async isJoined(roomId: string, userId: string): Promise<boolean> {
    const rows = await this.sql`
      SELECT 1 FROM current_state_events
      WHERE room_id = ${roomId} AND type = 'm.room.member' AND state_key = ${userId} AND membership = 'join'`;
    return rows.length > 0;
  }

  async canSeeEvent(userId: string, roomId: string, eventId: string): Promise<boolean> {
    const event = await this.store.getEvent(eventId);
    if (!event || event.roomId !== roomId) return false;
    return (await filterEventsForUser(this.store, userId, [event])).length === 1;
  }

  async getEventStreamOrdering(roomId: string, eventId: string): Promise<number | null> {
    const [row] = await this.sql<{ stream_ordering: number }[]>`
      SELECT stream_ordering FROM events WHERE event_id = ${eventId} AND room_id = ${roomId}`;
    return row ? Number(row.stream_ordering) : null;
  }

  /**
   * Whether `eventId` counts as part of thread `threadId` for receipts: the root itself, an event with an
   * `m.thread` relation to the root, or an event related to one of those; `main` = in no thread.
   */
  async isEventInThread(roomId: string, eventId: string, threadId: string): Promise<boolean> {
    const rows = await this.sql<{ relates_to_id: string; relation_type: string; parent_thread: string | null }[]>`
      SELECT r.relates_to_id, r.relation_type, p.relates_to_id AS parent_thread
      FROM event_relations r
      JOIN events e ON e.event_id = r.event_id AND e.room_id = ${roomId}
      LEFT JOIN event_relations p ON p.event_id = r.relates_to_id AND p.relation_type = 'm.thread'
      WHERE r.event_id = ${eventId}`;
    const rel = rows[0];
    const thread = !rel ? null : rel.relation_type === 'm.thread' ? rel.relates_to_id : rel.parent_thread;
    if (threadId === 'main') return thread === null;
    return eventId === threadId || thread === threadId || rel?.relates_to_id === threadId;
  }

  async sharesRoomWith(userA: string, userB: string): Promise<boolean> {
    if (userA === userB) return true;
    const rows = await this.sql`
      SELECT 1 FROM current_state_events a
      JOIN current_state_events b ON b.room_id = a.room_id AND b.type = 'm.room.member' AND b.state_key = ${userB} AND b.membership = 'join'
      WHERE a.type = 'm.room.member' AND a.state_key = ${userA} AND a.membership = 'join'
      LIMIT 1`;
    return rows.length > 0;
  }

  async getUsersSharingRoomWith(userId: string): Promise<string[]> {
    const rows = await this.sql<{ state_key: string }[]>`
      SELECT DISTINCT m.state_key FROM current_state_events mine
      JOIN current_state_events m ON m.room_id = mine.room_id AND m.type = 'm.room.member' AND m.membership = 'join'
      WHERE mine.type = 'm.room.member' AND mine.state_key = ${userId} AND mine.membership = 'join'`;
    return rows.map((r) => r.state_key);
  }

  /**
   * Users who began or may have stopped sharing a room with `userId` between two `events` positions:
   * members joining the user's rooms, members of rooms the user joined, and (when they share no room any
   * more) members who left or whose room the user left. Over-reporting is harmless to its callers.
   */
  async getSharingChangesBetween(userId: string, from: MultiWriterPosition, to: MultiWriterPosition): Promise<SharingChanges> {
    const lo = from.min;
    const hi = maxPosition(to);
    if (hi <= lo) return { joined: [], left: [] };
    const own = await this.sql<{ room_id: string; membership: string }[]>`
      SELECT DISTINCT ON (room_id) room_id, membership FROM room_memberships
      WHERE user_id = ${userId} AND stream_ordering > ${lo} AND stream_ordering <= ${hi}
      ORDER BY room_id, stream_ordering DESC`;
    const roomsJoined = own.filter((r) => r.membership === 'join').map((r) => r.room_id);
    const roomsLeft = own.filter((r) => r.membership !== 'join').map((r) => r.room_id);
    const others = await this.sql<{ state_key: string; membership: string }[]>`
      SELECT d.state_key, m.membership FROM current_state_delta_stream d
      JOIN current_state_events mine ON mine.room_id = d.room_id AND mine.type = 'm.room.member'
        AND mine.state_key = ${userId} AND mine.membership = 'join'
      LEFT JOIN room_memberships m ON m.event_id = d.event_id
      WHERE d.type = 'm.room.member' AND d.stream_id > ${lo} AND d.stream_id <= ${hi} AND d.state_key <> ${userId}`;
    const joined = new Set(others.filter((r) => r.membership === 'join').map((r) => r.state_key));
    const maybeLeft = new Set(others.filter((r) => r.membership !== 'join').map((r) => r.state_key));
    const [newRoomMembers, leftRoomMembers] = await Promise.all([
      this.membersOf(roomsJoined),
      this.membersOf(roomsLeft),
    ]);
    for (const u of newRoomMembers) joined.add(u);
    for (const u of leftRoomMembers) maybeLeft.add(u);
    joined.delete(userId);
    maybeLeft.delete(userId);
    const stillShared = new Set(await this.getUsersSharingRoomWith(userId));
    const left = [...maybeLeft].filter((u) => !stillShared.has(u));
    return { joined: [...joined].filter((u) => stillShared.has(u)), left };
  }

  private async membersOf(roomIds: readonly string[]): Promise<string[]> {
    if (roomIds.length === 0) return [];
    const rows = await this.sql<{ state_key: string }[]>`
      SELECT DISTINCT state_key FROM current_state_events
      WHERE room_id = ANY(${roomIds as string[]}) AND type = 'm.room.member' AND membership = 'join'`;
    return rows.map((r) => r.state_key);
  }
}
