/**
 * The published room directory (list_public_rooms.yaml): a room's visibility in it, and
 * GET/POST /publicRooms. Listed rooms are those published (`rooms.is_public`) that anyone may join,
 * knock on or read (as Synapse lists them), summarised from `room_stats`, largest first then by room
 * ID (both descending, as Synapse), in keyset pages whose tokens carry (members, room ID, direction).
 */
import type { JsonObject } from '@hs/core';
import { MatrixError, errors, isJsonObject } from '@hs/core';
import type { Requester } from '@hs/http';
import type { RoomApi } from './api.ts';
import { canChangeRoomList } from './room-permissions.ts';

export async function getDirectoryVisibility(api: RoomApi, roomId: string): Promise<JsonObject> {
  const info = await api.store.getRoomInfo(roomId);
  if (!info) throw errors.notFound('Room not found');
  return { visibility: info.isPublic ? 'public' : 'private' };
}

export async function setDirectoryVisibility(api: RoomApi, r: Requester, roomId: string, visibility: 'public' | 'private'): Promise<JsonObject> {
  if ((await api.store.getRoomInfo(roomId)) === undefined) throw errors.notFound('Room not found');
  if (!(await canChangeRoomList(api.store, roomId, r.userId, r.isAdmin))) {
    throw errors.forbidden("This server requires you to be a moderator in the room to edit its room list entry");
  }
  await api.sql`UPDATE rooms SET is_public = ${visibility === 'public'} WHERE room_id = ${roomId}`;
  return {};
}

export interface PublicRoomsQuery {
  readonly limit?: number;
  readonly since?: string;
  readonly server?: string;
  readonly searchTerm?: string;
  /** `null` in the list stands for rooms without a type. */
  readonly roomTypes?: ReadonlyArray<string | null>;
  readonly includeAllNetworks?: boolean;
  readonly thirdPartyInstanceId?: string;
}

/** An absent or zero limit lists everything, up to this many per page. */
const MAX_PAGE = 1000;

interface Since {
  readonly forward: boolean;
  readonly members: number;
  readonly roomId: string;
}

function encodeSince(s: Since): string {
  return Buffer.from(JSON.stringify([s.forward ? 'f' : 'b', s.members, s.roomId])).toString('base64url');
}

function decodeSince(token: string): Since {
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 3 && (v[0] === 'f' || v[0] === 'b') && Number.isInteger(v[1]) && v[1] >= 0 && v[1] <= 2 ** 31 - 1 && typeof v[2] === 'string') {
      return { forward: v[0] === 'f', members: v[1] as number, roomId: v[2] };
    }
  } catch {
    // fall through
  }
  throw errors.invalidParam('Invalid since token');
}

const SERVER_NAME = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$/;

interface StatsRow {
  room_id: string;
  joined_members: number;
  name: string | null;
  topic: string | null;
  canonical_alias: string | null;
  avatar_url: string | null;
  join_rule: string | null;
  history_visibility: string | null;
  guest_access: string | null;
  room_type: string | null;
}

function chunkEntry(r: StatsRow): JsonObject {
  const out: JsonObject = {
    room_id: r.room_id,
    num_joined_members: Number(r.joined_members),
    world_readable: r.history_visibility === 'world_readable',
    guest_can_join: r.guest_access === 'can_join',
  };
  if (r.name !== null) out.name = r.name;
  if (r.topic !== null) out.topic = r.topic;
  if (r.canonical_alias !== null) out.canonical_alias = r.canonical_alias;
  if (r.avatar_url !== null) out.avatar_url = r.avatar_url;
  if (r.join_rule !== null) out.join_rule = r.join_rule;
  if (r.room_type !== null) out.room_type = r.room_type;
  return out;
}

export async function listPublicRooms(api: RoomApi, q: PublicRoomsQuery): Promise<JsonObject> {
  if (q.server !== undefined && q.server !== api.serverName) {
    if (q.server.length > 255 || !SERVER_NAME.test(q.server)) throw errors.invalidParam(`Invalid server name: ${q.server}`);
    throw new MatrixError(502, 'M_UNKNOWN', `Failed to fetch the room list of ${q.server}: federation is not available`);
  }
  if (q.thirdPartyInstanceId !== undefined && !q.includeAllNetworks) {
    // Only application services publish rooms in third-party networks, and none has.
    if (!/^[^|]+\|[^|]+$/.test(q.thirdPartyInstanceId)) throw errors.invalidParam(`Invalid third_party_instance_id ${q.thirdPartyInstanceId}`);
    return { chunk: [], total_room_count_estimate: 0 };
  }
  if (q.limit !== undefined && (!Number.isSafeInteger(q.limit) || q.limit < 0)) throw errors.invalidParam('limit must be a non-negative integer');
  const limit = q.limit === undefined || q.limit === 0 ? MAX_PAGE : Math.min(q.limit, MAX_PAGE);
  const since = q.since !== undefined && q.since !== '' ? decodeSince(q.since) : undefined;
  await api.indexer.catchUpQuietly();
  const { sql } = api;

  const listed = sql`
    r.is_public AND (s.join_rule IN ('public', 'knock', 'knock_restricted') OR s.history_visibility = 'world_readable')`;
  const term = q.searchTerm?.trim();
  const like = term ? `%${term.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%` : undefined;
  const types = q.roomTypes?.filter((t): t is string => typeof t === 'string');
  const untyped = q.roomTypes?.includes(null) ?? false;
  const forward = since?.forward ?? true;
  const rows = await sql<StatsRow[]>`
    SELECT s.room_id, s.joined_members, s.name, s.topic, s.canonical_alias, s.avatar_url, s.join_rule,
           s.history_visibility, s.guest_access, s.room_type
    FROM rooms r JOIN room_stats s ON s.room_id = r.room_id
    WHERE ${listed}
      ${
        like
          ? sql`AND (lower(s.name) LIKE ${like} OR lower(s.topic) LIKE ${like} OR lower(s.canonical_alias) LIKE ${like} OR s.room_id = ${term as string})`
          : sql``
      }
      ${q.roomTypes ? sql`AND (s.room_type = ANY(${types ?? []}::text[]) OR (${untyped} AND s.room_type IS NULL))` : sql``}
      ${since ? (forward ? sql`AND (s.joined_members, s.room_id) < (${since.members}, ${since.roomId})` : sql`AND (s.joined_members, s.room_id) > (${since.members}, ${since.roomId})`) : sql``}
    ORDER BY ${forward ? sql`s.joined_members DESC, s.room_id DESC` : sql`s.joined_members ASC, s.room_id ASC`}
    LIMIT ${limit + 1}`;
  const more = rows.length > limit;
  const page = rows.slice(0, limit);
  if (!forward) page.reverse();
  const [count] = await sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM rooms r JOIN room_stats s ON s.room_id = r.room_id WHERE ${listed}`;
  const out: JsonObject = { chunk: page.map(chunkEntry), total_room_count_estimate: Number(count?.n ?? 0) };
  const first = page[0];
  const last = page.at(-1);
  const token = (fwd: boolean, row: StatsRow) => encodeSince({ forward: fwd, members: Number(row.joined_members), roomId: row.room_id });
  if (last && (forward ? more : true)) out.next_batch = token(true, last);
  if (first && (forward ? since !== undefined : more)) out.prev_batch = token(false, first);
  return out;
}

/** The POST body (validated by `client/public-rooms`) as a query. */
export function publicRoomsQueryFromBody(body: JsonObject, server: string | undefined): PublicRoomsQuery {
  const filter = isJsonObject(body.filter) ? body.filter : {};
  return {
    ...(typeof body.limit === 'number' ? { limit: body.limit } : {}),
    ...(typeof body.since === 'string' ? { since: body.since } : {}),
    ...(server !== undefined ? { server } : {}),
    ...(typeof filter.generic_search_term === 'string' ? { searchTerm: filter.generic_search_term } : {}),
    ...(Array.isArray(filter.room_types) ? { roomTypes: filter.room_types as Array<string | null> } : {}),
    ...(typeof body.include_all_networks === 'boolean' ? { includeAllNetworks: body.include_all_networks } : {}),
    ...(typeof body.third_party_instance_id === 'string' ? { thirdPartyInstanceId: body.third_party_instance_id } : {}),
  };
}
