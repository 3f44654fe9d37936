/**
 * What push rule evaluation needs about the rooms of a batch of new events, read in one round trip
 * (two queries in parallel, however many rooms) and cached per room until its state changes
 * (`PushRoomStateCache`): the local joined members with their display names,
 * the joined member count, and the power levels (with the create event, for v12's privileged
 * creators). This is the rooms' current state, i.e. after the batch; `PushMembership` rewinds the
 * batch's own member events so each event is evaluated against the membership before it.
 */
import { isJsonObject, type JsonObject } from '@hs/core';
import { getRoomVersion, senderPowerLevel, toEventView, type EventView, type PDU, type RoomVersion } from '@hs/events';
import type { Sql } from '@hs/storage';

export interface PushRoomState {
  readonly roomId: string;
  /** Local users joined now → their display name in the room. */
  readonly joined: Map<string, string | null>;
  /** Joined members on every server now. */
  readonly joinedCount: number;
  /** `m.room.power_levels` content (its `notifications` map decides @room), if the room has one. */
  readonly powerLevels: JsonObject | undefined;
  /** The sender's power level (Infinity for v12 creators). */
  powerOf(sender: string): number;
}

interface InfoRow {
  room_id: string;
  room_version: string;
  joined: number;
  create_id: string | null;
  create_json: string | null;
  pl_id: string | null;
  pl_json: string | null;
}

function view(rv: RoomVersion, id: string | null, json: string | null): EventView | undefined {
  if (id === null || json === null) return undefined;
  try {
    return toEventView(JSON.parse(json) as PDU, rv, id);
  } catch {
    return undefined;
  }
}

export async function loadPushRoomStates(sql: Sql, roomIds: readonly string[]): Promise<Map<string, PushRoomState>> {
  const out = new Map<string, PushRoomState>();
  if (roomIds.length === 0) return out;
  const rooms = roomIds as string[];
  const [members, infos] = await Promise.all([
    sql<{ room_id: string; user_id: string; displayname: string | null }[]>`
      SELECT l.room_id, l.user_id, m.displayname
        FROM local_current_membership l LEFT JOIN room_memberships m ON m.event_id = l.event_id
       WHERE l.room_id = ANY(${rooms}) AND l.membership = 'join'`,
    sql<InfoRow[]>`
      SELECT r.room_id, r.room_version,
             (SELECT count(*)::int FROM current_state_events c
               WHERE c.room_id = r.room_id AND c.type = 'm.room.member' AND c.membership = 'join') AS joined,
             cr.event_id AS create_id, cr.json AS create_json, pl.event_id AS pl_id, pl.json AS pl_json
        FROM rooms r
        LEFT JOIN LATERAL (SELECT e.event_id, e.json FROM current_state_events c JOIN events e ON e.event_id = c.event_id
                            WHERE c.room_id = r.room_id AND c.type = 'm.room.create' AND c.state_key = '') cr ON true
        LEFT JOIN LATERAL (SELECT e.event_id, e.json FROM current_state_events c JOIN events e ON e.event_id = c.event_id
                            WHERE c.room_id = r.room_id AND c.type = 'm.room.power_levels' AND c.state_key = '') pl ON true
       WHERE r.room_id = ANY(${rooms})`,
  ]);
  const joinedBy = new Map<string, Map<string, string | null>>();
  for (const m of members) {
    let map = joinedBy.get(m.room_id);
    if (!map) joinedBy.set(m.room_id, (map = new Map()));
    map.set(m.user_id, m.displayname);
  }
  for (const info of infos) {
    const rv = getRoomVersion(info.room_version);
    if (!rv) continue;
    const create = view(rv, info.create_id, info.create_json);
    const pl = view(rv, info.pl_id, info.pl_json);
    const lookup = (type: string, key: string): EventView | undefined =>
      key !== '' ? undefined : type === 'm.room.create' ? create : type === 'm.room.power_levels' ? pl : undefined;
    const levels = new Map<string, number>();
    out.set(info.room_id, {
      roomId: info.room_id,
      joined: joinedBy.get(info.room_id) ?? new Map(),
      joinedCount: info.joined,
      powerLevels: pl && isJsonObject(pl.content) ? pl.content : undefined,
      powerOf(sender) {
        let level = levels.get(sender);
        if (level === undefined) levels.set(sender, (level = senderPowerLevel(rv, sender, lookup)));
        return level;
      },
    });
  }
  return out;
}

/**
 * Room states cached per process, each under the room's current-state version (the newest
 * `current_state_delta_stream` position of the room, one index probe per room): a batch re-reads only
 * rooms whose state changed, which for a busy room is rare. Versions are read before states, so a
 * change landing in between is re-read next time. A change committed out of stream order by another
 * writer of the same room could leave the version unmoved, so entries are also re-read after `ttlMs`.
 */
export class PushRoomStateCache {
  private readonly entries = new Map<string, { version: number; at: number; state: PushRoomState }>();
  private readonly maxRooms: number;
  private readonly ttlMs: number;
  private readonly clock: () => number;
  /** Rooms whose state was read from Postgres (for tests and metrics). */
  loads = 0;

  constructor(opts: { maxRooms?: number; ttlMs?: number; clock?: () => number } = {}) {
    this.maxRooms = opts.maxRooms ?? 10_000;
    this.ttlMs = opts.ttlMs ?? 5_000;
    this.clock = opts.clock ?? Date.now;
  }

  async load(sql: Sql, roomIds: readonly string[]): Promise<Map<string, PushRoomState>> {
    const out = new Map<string, PushRoomState>();
    if (roomIds.length === 0) return out;
    const versions = await sql<{ room_id: string; version: number | null }[]>`
      SELECT r.room_id,
             (SELECT d.stream_id FROM current_state_delta_stream d WHERE d.room_id = r.room_id ORDER BY d.stream_id DESC LIMIT 1) AS version
        FROM unnest(${roomIds as string[]}::text[]) AS r(room_id)`;
    const now = this.clock();
    const stale: string[] = [];
    const versionOf = new Map<string, number>();
    for (const v of versions) {
      const version = Number(v.version ?? 0);
      versionOf.set(v.room_id, version);
      const hit = this.entries.get(v.room_id);
      if (hit && hit.version === version && now - hit.at < this.ttlMs) out.set(v.room_id, hit.state);
      else stale.push(v.room_id);
    }
    if (stale.length > 0) {
      this.loads += stale.length;
      for (const [roomId, state] of await loadPushRoomStates(sql, stale)) {
        out.set(roomId, state);
        this.entries.delete(roomId);
        this.entries.set(roomId, { version: versionOf.get(roomId) ?? 0, at: now, state });
      }
      let excess = this.entries.size - this.maxRooms;
      for (const key of this.entries.keys()) {
        if (excess-- <= 0) break;
        this.entries.delete(key);
      }
    }
    return out;
  }
}

/** A member's membership and display name as a (replaced) member event set them. */
export interface MemberSnapshot {
  readonly membership: string;
  readonly displayname: string | null;
}

/** The membership each of these member events set (the events replaced by the batch's member events). */
export async function loadMemberSnapshots(sql: Sql, eventIds: readonly string[]): Promise<Map<string, MemberSnapshot>> {
  const out = new Map<string, MemberSnapshot>();
  if (eventIds.length === 0) return out;
  const rows = await sql<{ event_id: string; membership: string; displayname: string | null }[]>`
    SELECT event_id, membership, displayname FROM room_memberships WHERE event_id = ANY(${eventIds as string[]})`;
  for (const r of rows) out.set(r.event_id, { membership: r.membership, displayname: r.displayname });
  return out;
}
