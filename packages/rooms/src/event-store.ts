/**
 * Every read of the rooms schema, for all processes: events by ID, room state (current, at an event,
 * of a state group), memberships, the room timeline by stream or topological order, and the
 * `events` stream row feed. Reads always go to Postgres (plus immutable caches), never to memory
 * that only the writer has.
 */
import type { StateKey, StateMap } from '@hs/events';
import { splitStateKey, stateKey } from '@hs/events';
import type { Sql } from '@hs/storage';
import type { EventRow, StoredEvent } from './stored-event.ts';
import { eventRowColumns, rowToStoredEvent } from './stored-event.ts';
import type { Db, StateFilter } from './state-store.ts';
import { StateStore, filterStateMap, splitStateFilter } from './state-store.ts';
import { WeightedLru } from './lru.ts';
import { txnKeyOf, type TxnKey } from './ids.ts';

/** One row of the `events` stream feed, for /sync and replication. */
export interface EventStreamRow {
  readonly streamOrdering: number;
  readonly roomId: string;
  readonly eventId: string;
  readonly type: string;
  readonly stateKey: string | undefined;
  readonly membership: string | undefined;
  readonly sender: string;
  readonly outlier: boolean;
  readonly rejected: boolean;
}

/** A change to a room's current state, by the stream position of the write that made it. */
export interface CurrentStateDelta {
  readonly streamId: number;
  readonly roomId: string;
  readonly type: string;
  readonly stateKey: string;
  /** Undefined when the entry was removed. */
  readonly eventId: string | undefined;
  readonly prevEventId: string | undefined;
}

export interface LocalMembership {
  readonly roomId: string;
  readonly userId: string;
  readonly eventId: string;
  readonly membership: string;
  readonly streamOrdering: number;
  readonly forgotten: boolean;
}

/** A position in a room's topological order (what `t{depth}-{stream}` tokens name). */
export interface TopologicalPosition {
  readonly topological: number;
  readonly stream: number;
}

export type Direction = 'f' | 'b';

/** Timeline events: neither outliers nor rejected. */
export class EventStore {
  readonly sql: Sql;
  readonly state: StateStore;
  private readonly versions = new WeightedLru<string, string>(100_000);

  constructor(sql: Sql, opts: { stateCacheEntries?: number } = {}) {
    this.sql = sql;
    this.state = new StateStore(sql, opts.stateCacheEntries);
  }

  // ---- events ----

  /** Events by ID in one query; unknown IDs are absent from the map. */
  async getEvents(eventIds: Iterable<string>, db: Db = this.sql): Promise<Map<string, StoredEvent>> {
    const ids = [...new Set(eventIds)];
    const out = new Map<string, StoredEvent>();
    if (ids.length === 0) return out;
    const rows = await db<EventRow[]>`
      SELECT ${eventRowColumns(db)}
      FROM events e LEFT JOIN rooms r ON r.room_id = e.room_id
      WHERE e.event_id = ANY(${ids}::text[])`;
    for (const r of rows) out.set(r.event_id, rowToStoredEvent(r));
    return out;
  }

  async getEvent(eventId: string): Promise<StoredEvent | undefined> {
    return (await this.getEvents([eventId])).get(eventId);
  }

  /** Events by ID, in the given order, skipping unknown ones. */
  async getEventList(eventIds: readonly string[]): Promise<StoredEvent[]> {
    const map = await this.getEvents(eventIds);
    return eventIds.flatMap((id) => map.get(id) ?? []);
  }

  // ---- rooms ----

  /** The room's version, or undefined for a room we do not know (cached: it never changes). */
  async getRoomVersion(roomId: string): Promise<string | undefined> {
    const known = this.versions.get(roomId);
    if (known !== undefined) return known;
    const [row] = await this.sql<{ room_version: string }[]>`SELECT room_version FROM rooms WHERE room_id = ${roomId}`;
    if (!row) return undefined;
    this.versions.set(roomId, row.room_version);
    return row.room_version;
  }

  async getRoomInfo(roomId: string): Promise<{ roomVersion: string; creator: string | undefined; isPublic: boolean; createdTs: number } | undefined> {
    const [row] = await this.sql<{ room_version: string; creator: string | null; is_public: boolean; created_ts: number }[]>`
      SELECT room_version, creator, is_public, created_ts FROM rooms WHERE room_id = ${roomId}`;
    if (!row) return undefined;
    return { roomVersion: row.room_version, creator: row.creator ?? undefined, isPublic: row.is_public, createdTs: Number(row.created_ts) };
  }

  /** The room an alias of ours points to. */
  async resolveAlias(alias: string): Promise<string | undefined> {
    const [row] = await this.sql<{ room_id: string }[]>`SELECT room_id FROM room_aliases WHERE room_alias = ${alias}`;
    return row?.room_id;
  }

  async getForwardExtremities(roomId: string): Promise<string[]> {
    const rows = await this.sql<{ event_id: string }[]>`
      SELECT event_id FROM event_forward_extremities WHERE room_id = ${roomId}`;
    return rows.map((r) => r.event_id);
  }

  // ---- state ----

  /** The room's current state as (type, state_key) → event ID. */
  async getCurrentState(roomId: string, filter?: StateFilter): Promise<StateMap> {
    const rows = await this.currentStateRows(roomId, filter);
    return new Map(rows.map((r) => [stateKey(r.type, r.state_key), r.event_id]));
  }

  /** The current state events themselves, in one query. */
  async getCurrentStateEvents(roomId: string, filter?: StateFilter): Promise<StoredEvent[]> {
    const { types, keys, wild } = splitStateFilter(filter ?? []);
    const rows = await this.sql<EventRow[]>`
      SELECT ${eventRowColumns(this.sql)}
      FROM current_state_events c
      JOIN events e ON e.event_id = c.event_id
      LEFT JOIN rooms r ON r.room_id = e.room_id
      WHERE c.room_id = ${roomId}
        AND (${filter === undefined}
             OR (c.type, c.state_key) IN (SELECT * FROM unnest(${types}::text[], ${keys}::text[]))
             OR c.type = ANY(${wild}::text[]))`;
    return rows.map(rowToStoredEvent);
  }

  private async currentStateRows(roomId: string, filter?: StateFilter): Promise<{ type: string; state_key: string; event_id: string }[]> {
    if (!filter) {
      return this.sql`SELECT type, state_key, event_id FROM current_state_events WHERE room_id = ${roomId}`;
    }
    const { types, keys, wild } = splitStateFilter(filter);
    return this.sql`
      SELECT type, state_key, event_id FROM current_state_events
      WHERE room_id = ${roomId}
        AND ((type, state_key) IN (SELECT * FROM unnest(${types}::text[], ${keys}::text[])) OR type = ANY(${wild}::text[]))`;
  }

  /**
   * The state AFTER an event (including it, for a state event); undefined for events without
   * state (unknown, outliers).
   */
  async getStateAt(eventId: string, filter?: StateFilter): Promise<StateMap | undefined> {
    const groups = await this.state.groupsForEvents([eventId]);
    const group = groups.get(eventId);
    if (group === undefined) return undefined;
    return this.state.groupState(group, filter);
  }

  /** The state BEFORE an event: the state after it with its own entry put back to what it replaced. */
  async getStateBefore(eventId: string, filter?: StateFilter): Promise<StateMap | undefined> {
    const [after, ev] = await Promise.all([this.getStateAt(eventId), this.getEvent(eventId)]);
    if (!after || !ev) return undefined;
    if (ev.stateKey === undefined || ev.rejectedReason !== undefined) return filterStateMap(after, filter);
    const before = new Map(after);
    const k = stateKey(ev.type, ev.stateKey);
    if (before.get(k) === ev.eventId) {
      if (ev.replacesState !== undefined) before.set(k, ev.replacesState);
      else before.delete(k);
    }
    return filterStateMap(before, filter);
  }

  async getStateGroupState(group: number, filter?: StateFilter): Promise<StateMap> {
    return this.state.groupState(group, filter);
  }

  /** The state after the last timeline event at or before a stream position (for `/members?at=`). */
  async getStateAtStream(roomId: string, streamOrdering: number, filter?: StateFilter): Promise<StateMap | undefined> {
    const [row] = await this.sql<{ state_group: number }[]>`
      SELECT sg.state_group FROM events e JOIN event_to_state_groups sg ON sg.event_id = e.event_id
      WHERE e.room_id = ${roomId} AND e.stream_ordering <= ${streamOrdering} AND NOT e.outlier
      ORDER BY e.stream_ordering DESC LIMIT 1`;
    if (!row) return undefined;
    return this.state.groupState(Number(row.state_group), filter);
  }

  // ---- membership ----

  /** A user's current membership in a room (any user, local or remote). */
  async getMembership(roomId: string, userId: string): Promise<{ membership: string; eventId: string } | undefined> {
    const [row] = await this.sql<{ membership: string | null; event_id: string }[]>`
      SELECT membership, event_id FROM current_state_events
      WHERE room_id = ${roomId} AND type = 'm.room.member' AND state_key = ${userId}`;
    if (!row) return undefined;
    return { membership: row.membership ?? 'leave', eventId: row.event_id };
  }

  /** A local user's current membership, including whether they forgot the room. */
  async getLocalMembership(roomId: string, userId: string): Promise<LocalMembership | undefined> {
    const [row] = await this.sql<{ event_id: string; membership: string; stream_ordering: number; forgotten: boolean }[]>`
      SELECT event_id, membership, stream_ordering, forgotten FROM local_current_membership
      WHERE user_id = ${userId} AND room_id = ${roomId}`;
    if (!row) return undefined;
    return { roomId, userId, eventId: row.event_id, membership: row.membership, streamOrdering: Number(row.stream_ordering), forgotten: row.forgotten };
  }

  /** Rooms a local user is joined to. */
  async getJoinedRooms(userId: string): Promise<string[]> {
    const rows = await this.sql<{ room_id: string }[]>`
      SELECT room_id FROM local_current_membership WHERE user_id = ${userId} AND membership = 'join' ORDER BY room_id`;
    return rows.map((r) => r.room_id);
  }

  /** A local user's rooms with the given memberships (sync room lists); forgotten rooms are left out. */
  async getRoomsForUser(userId: string, memberships: readonly string[] = ['join', 'invite', 'knock', 'leave', 'ban']): Promise<LocalMembership[]> {
    const rows = await this.sql<{ room_id: string; event_id: string; membership: string; stream_ordering: number }[]>`
      SELECT room_id, event_id, membership, stream_ordering FROM local_current_membership
      WHERE user_id = ${userId} AND membership = ANY(${memberships as string[]}::text[]) AND NOT forgotten`;
    return rows.map((r) => ({
      roomId: r.room_id,
      userId,
      eventId: r.event_id,
      membership: r.membership,
      streamOrdering: Number(r.stream_ordering),
      forgotten: false,
    }));
  }

  /** Joined members with the profile their join event carries. */
  async getJoinedMembers(roomId: string): Promise<Map<string, { displayname?: string; avatarUrl?: string }>> {
    const rows = await this.sql<{ state_key: string; displayname: string | null; avatar_url: string | null }[]>`
      SELECT c.state_key, m.displayname, m.avatar_url
      FROM current_state_events c LEFT JOIN room_memberships m ON m.event_id = c.event_id
      WHERE c.room_id = ${roomId} AND c.type = 'm.room.member' AND c.membership = 'join'`;
    const out = new Map<string, { displayname?: string; avatarUrl?: string }>();
    for (const r of rows) {
      out.set(r.state_key, {
        ...(r.displayname !== null ? { displayname: r.displayname } : {}),
        ...(r.avatar_url !== null ? { avatarUrl: r.avatar_url } : {}),
      });
    }
    return out;
  }

  /** Local users currently joined to a room. */
  async getLocalJoinedUsers(roomId: string): Promise<string[]> {
    const rows = await this.sql<{ user_id: string }[]>`
      SELECT user_id FROM local_current_membership WHERE room_id = ${roomId} AND membership = 'join'`;
    return rows.map((r) => r.user_id);
  }

  // ---- timeline ----

  /**
   * Timeline events of a room by stream order: forwards, those with `from < stream <= to`
   * ascending; backwards, those with `to < stream <= from` descending. At most `limit`.
   */
  async getEventsInRoom(roomId: string, fromStream: number, toStream: number, limit: number, direction: Direction): Promise<StoredEvent[]> {
    const rows =
      direction === 'f'
        ? await this.sql<{ event_id: string }[]>`
            SELECT event_id FROM events
            WHERE room_id = ${roomId} AND stream_ordering > ${fromStream} AND stream_ordering <= ${toStream}
              AND NOT outlier AND rejected_reason IS NULL
            ORDER BY stream_ordering ASC LIMIT ${limit}`
        : await this.sql<{ event_id: string }[]>`
            SELECT event_id FROM events
            WHERE room_id = ${roomId} AND stream_ordering <= ${fromStream} AND stream_ordering > ${toStream}
              AND NOT outlier AND rejected_reason IS NULL
            ORDER BY stream_ordering DESC LIMIT ${limit}`;
    return this.getEventList(rows.map((r) => r.event_id));
  }

  /**
   * The latest timeline events of several rooms after a stream position (initial and incremental
   * /sync): per room at most `limitPerRoom`, newest first, with `from < stream <= to`.
   */
  async getRecentEventsInRooms(roomIds: readonly string[], fromStream: number, toStream: number, limitPerRoom: number): Promise<Map<string, StoredEvent[]>> {
    const out = new Map<string, StoredEvent[]>();
    if (roomIds.length === 0) return out;
    const rows = await this.sql<{ room_id: string; event_id: string }[]>`
      SELECT r.room_id, x.event_id
      FROM unnest(${roomIds as string[]}::text[]) AS r(room_id)
      CROSS JOIN LATERAL (
        SELECT event_id FROM events e
        WHERE e.room_id = r.room_id AND e.stream_ordering > ${fromStream} AND e.stream_ordering <= ${toStream}
          AND NOT e.outlier AND e.rejected_reason IS NULL
        ORDER BY e.stream_ordering DESC LIMIT ${limitPerRoom}
      ) AS x`;
    const events = await this.getEvents(rows.map((r) => r.event_id));
    for (const r of rows) {
      const ev = events.get(r.event_id);
      if (!ev) continue;
      let list = out.get(r.room_id);
      if (!list) out.set(r.room_id, (list = []));
      list.push(ev);
    }
    return out;
  }

  /**
   * Timeline events in topological order (/messages): backwards, those strictly before `from`,
   * newest first; forwards, those strictly after it, oldest first. `to` bounds the other end
   * (exclusive for backwards, inclusive for forwards, as Synapse pages).
   */
  async paginateRoom(
    roomId: string,
    from: TopologicalPosition,
    direction: Direction,
    limit: number,
    to?: TopologicalPosition,
  ): Promise<StoredEvent[]> {
    const rows =
      direction === 'b'
        ? await this.sql<{ event_id: string }[]>`
            SELECT event_id FROM events
            WHERE room_id = ${roomId} AND NOT outlier AND rejected_reason IS NULL
              AND (topological_ordering, stream_ordering) < (${from.topological}, ${from.stream})
              AND (${to === undefined} OR (topological_ordering, stream_ordering) >= (${to?.topological ?? 0}, ${to?.stream ?? 0}))
            ORDER BY topological_ordering DESC, stream_ordering DESC LIMIT ${limit}`
        : await this.sql<{ event_id: string }[]>`
            SELECT event_id FROM events
            WHERE room_id = ${roomId} AND NOT outlier AND rejected_reason IS NULL
              AND (topological_ordering, stream_ordering) > (${from.topological}, ${from.stream})
              AND (${to === undefined} OR (topological_ordering, stream_ordering) <= (${to?.topological ?? 0}, ${to?.stream ?? 0}))
            ORDER BY topological_ordering ASC, stream_ordering ASC LIMIT ${limit}`;
    return this.getEventList(rows.map((r) => r.event_id));
  }

  /** Timeline events (neither outliers nor rejected) of every room with `from < stream <= to`, ascending. */
  async getTimelineEventsBetween(fromStream: number, toStream: number): Promise<StoredEvent[]> {
    const rows = await this.sql<EventRow[]>`
      SELECT ${eventRowColumns(this.sql)}
      FROM events e LEFT JOIN rooms r ON r.room_id = e.room_id
      WHERE e.stream_ordering > ${fromStream} AND e.stream_ordering <= ${toStream} AND NOT e.outlier AND e.rejected_reason IS NULL
      ORDER BY e.stream_ordering
      LIMIT ${Math.max(0, toStream - fromStream)}`;
    // The LIMIT never cuts (positions are unique); it steers the planner to the stream index even
    // before a fresh table has statistics.
    return rows.map(rowToStoredEvent);
  }

  /** The `events` stream between two positions (`from < stream <= to`), ascending. */
  async getEventsStream(fromStream: number, toStream: number, limit: number): Promise<EventStreamRow[]> {
    const rows = await this.sql<
      { stream_ordering: number; room_id: string; event_id: string; type: string; state_key: string | null; membership: string | null; sender: string; outlier: boolean; rejected: boolean }[]
    >`
      SELECT stream_ordering, room_id, event_id, type, state_key, membership, sender, outlier,
             rejected_reason IS NOT NULL AS rejected
      FROM events WHERE stream_ordering > ${fromStream} AND stream_ordering <= ${toStream}
      ORDER BY stream_ordering ASC LIMIT ${limit}`;
    return rows.map((r) => ({
      streamOrdering: Number(r.stream_ordering),
      roomId: r.room_id,
      eventId: r.event_id,
      type: r.type,
      stateKey: r.state_key ?? undefined,
      membership: r.membership ?? undefined,
      sender: r.sender,
      outlier: r.outlier,
      rejected: r.rejected,
    }));
  }

  /** Current-state changes with `from < stream_id <= to`, optionally for some rooms only. */
  async getCurrentStateDeltas(fromStream: number, toStream: number, roomIds?: readonly string[]): Promise<CurrentStateDelta[]> {
    const rows = await this.sql<{ stream_id: number; room_id: string; type: string; state_key: string; event_id: string | null; prev_event_id: string | null }[]>`
      SELECT stream_id, room_id, type, state_key, event_id, prev_event_id FROM current_state_delta_stream
      WHERE stream_id > ${fromStream} AND stream_id <= ${toStream}
        AND (${roomIds === undefined} OR room_id = ANY(${(roomIds ?? []) as string[]}::text[]))
      ORDER BY stream_id ASC`;
    return rows.map((r) => ({
      streamId: Number(r.stream_id),
      roomId: r.room_id,
      type: r.type,
      stateKey: r.state_key,
      eventId: r.event_id ?? undefined,
      prevEventId: r.prev_event_id ?? undefined,
    }));
  }

  // ---- transactions ----

  async getEventIdForTxn(userId: string, scope: string, roomId: string, txnId: string): Promise<string | undefined> {
    const [row] = await this.sql<{ event_id: string }[]>`
      SELECT event_id FROM event_txn_id
      WHERE user_id = ${userId} AND txn_scope = ${scope} AND room_id = ${roomId} AND txn_id = ${txnId}`;
    return row?.event_id;
  }

  /** The events these transactions produced in the room, by `txnKeyOf` (absent: none). */
  async getEventIdsForTxns(roomId: string, txns: readonly TxnKey[]): Promise<Map<string, string>> {
    const rows = await this.sql<{ user_id: string; txn_scope: string; txn_id: string; event_id: string }[]>`
      SELECT k.user_id, k.txn_scope, k.txn_id, t.event_id
      FROM unnest(${txns.map((t) => t.userId)}::text[], ${txns.map((t) => t.scope)}::text[], ${txns.map((t) => t.txnId)}::text[]) AS k(user_id, txn_scope, txn_id)
      CROSS JOIN LATERAL (
        SELECT event_id FROM event_txn_id
        WHERE user_id = k.user_id AND txn_scope = k.txn_scope AND room_id = ${roomId} AND txn_id = k.txn_id
        OFFSET 0) t`;
    // OFFSET 0 keeps the lookup a primary-key probe per transaction, whatever the table's statistics.
    return new Map(rows.map((r) => [txnKeyOf({ userId: r.user_id, scope: r.txn_scope, txnId: r.txn_id }), r.event_id]));
  }

  /** Forget send transactions older than `maxAgeMs` (Synapse keeps them a day). Returns how many. */
  async expireTransactionIds(maxAgeMs: number, now = Date.now()): Promise<number> {
    const res = await this.sql`DELETE FROM event_txn_id WHERE inserted_ts < ${now - maxAgeMs}`;
    return res.count;
  }
}

/** (type, state_key) pairs of a state map, for callers that want them split. */
export function stateEntries(map: StateMap): Array<{ type: string; stateKey: string; eventId: string }> {
  return [...map].map(([k, eventId]) => {
    const [type, key] = splitStateKey(k as StateKey);
    return { type, stateKey: key, eventId };
  });
}
