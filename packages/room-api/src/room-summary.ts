/**
 * GET /_matrix/client/v1/room_summary/{roomIdOrAlias} (room_summary.yaml, spec v1.15): a room's
 * summary from its current state. Who may see it follows Synapse's room summary handler: anyone when
 * the room is public, knockable (knock / knock_restricted, where its version has them) or
 * world_readable; otherwise its joined and invited members, and — for restricted rooms — members of
 * one of the rooms its join rules allow. Everyone else gets 404 like an unknown room, so a private
 * room's existence does not leak. Rooms and aliases of other servers need federation (absent): 404.
 */
import type { JsonObject } from '@hs/core';
import { errors, isJsonObject } from '@hs/core';
import { getRoomVersion, redactEvent } from '@hs/events';
import type { StateFilter, StoredEvent } from '@hs/rooms';
import { roomVersionOf, serverOf } from '@hs/rooms';
import type { RoomApi } from './api.ts';
import { checkAlias } from './aliases.ts';
import { requireRoomId } from './params.ts';
import { plainTopic } from './searchable.ts';

const SUMMARY_STATE: StateFilter = [
  ['m.room.create', ''],
  ['m.room.join_rules', ''],
  ['m.room.history_visibility', ''],
  ['m.room.guest_access', ''],
  ['m.room.name', ''],
  ['m.room.topic', ''],
  ['m.room.avatar', ''],
  ['m.room.canonical_alias', ''],
  ['m.room.encryption', ''],
];

const notAccessible = () => errors.notFound('Room not found or is not accessible');
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** A room ID as is, a local alias resolved; anything else is 400, unknown or remote aliases 404. */
export async function resolveRoomIdOrAlias(api: RoomApi, target: string): Promise<string> {
  if (target.startsWith('!')) {
    requireRoomId(target);
    return target;
  }
  if (!target.startsWith('#')) throw errors.invalidParam(`${target} is neither a room ID nor a room alias`);
  checkAlias(target);
  if (serverOf(target) !== api.serverName) {
    throw errors.notFound(`Room alias ${target} not found: resolving aliases of other servers needs federation, which is not available`);
  }
  const roomId = await api.store.resolveAlias(target);
  if (roomId === undefined) throw errors.notFound(`Room alias ${target} not found`);
  return roomId;
}

/** The content a state event shows now: pruned when it was redacted. */
function currentContent(ev: StoredEvent): JsonObject {
  const pdu = ev.redactedBy === undefined ? ev.pdu : redactEvent(ev.pdu, roomVersionOf(ev));
  return isJsonObject(pdu.content) ? pdu.content : {};
}

/**
 * The summary of `target` for `userId` (undefined: an unauthenticated request, which sees only
 * rooms anyone may see and gets no `membership`).
 */
export async function getRoomSummary(api: RoomApi, userId: string | undefined, target: string): Promise<JsonObject> {
  const roomId = await resolveRoomIdOrAlias(api, target);
  const versionId = await api.store.getRoomVersion(roomId);
  const rv = versionId === undefined ? undefined : getRoomVersion(versionId);
  if (versionId === undefined || rv === undefined) throw notAccessible();
  const filter: StateFilter = userId === undefined ? SUMMARY_STATE : [...SUMMARY_STATE, ['m.room.member', userId]];
  const [events, [count]] = await Promise.all([
    api.store.getCurrentStateEvents(roomId, filter),
    api.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM current_state_events
      WHERE room_id = ${roomId} AND type = 'm.room.member' AND membership = 'join'`,
  ]);
  if (events.length === 0) throw notAccessible();
  const state = new Map<string, JsonObject>();
  let membership: string | undefined;
  for (const ev of events) {
    const content = currentContent(ev);
    if (ev.type === 'm.room.member') membership = str(content.membership);
    else state.set(ev.type, content);
  }

  const joinRules = state.get('m.room.join_rules');
  const joinRule = str(joinRules?.join_rule);
  const worldReadable = state.get('m.room.history_visibility')?.history_visibility === 'world_readable';
  const restricted = (rv.restrictedJoinRule && joinRule === 'restricted') || (rv.knockRestrictedJoinRule && joinRule === 'knock_restricted');
  const allow = restricted && Array.isArray(joinRules?.allow) ? joinRules.allow : [];
  const allowedRoomIds = [
    ...new Set(allow.flatMap((a) => (isJsonObject(a) && a.type === 'm.room_membership' && typeof a.room_id === 'string' ? [a.room_id] : []))),
  ];

  const anyoneMaySee =
    joinRule === 'public' || (rv.knock && joinRule === 'knock') || (rv.knockRestrictedJoinRule && joinRule === 'knock_restricted') || worldReadable;
  let visible = anyoneMaySee || membership === 'join' || membership === 'invite';
  if (!visible && userId !== undefined && allowedRoomIds.length > 0) {
    const inAllowed = await api.sql`
      SELECT 1 FROM local_current_membership
      WHERE user_id = ${userId} AND room_id = ANY(${allowedRoomIds}::text[]) AND membership = 'join' LIMIT 1`;
    visible = inAllowed.length > 0;
  }
  if (!visible) throw notAccessible();

  const out: JsonObject = {
    room_id: roomId,
    num_joined_members: Number(count?.n ?? 0),
    world_readable: worldReadable,
    guest_can_join: state.get('m.room.guest_access')?.guest_access === 'can_join',
    room_version: versionId,
  };
  const topic = state.get('m.room.topic');
  const optional: Array<[string, string | undefined]> = [
    ['name', str(state.get('m.room.name')?.name)],
    ['topic', topic ? plainTopic(topic) : undefined],
    ['avatar_url', str(state.get('m.room.avatar')?.url)],
    ['canonical_alias', str(state.get('m.room.canonical_alias')?.alias)],
    ['join_rule', joinRule],
    ['room_type', str(state.get('m.room.create')?.type)],
    ['encryption', str(state.get('m.room.encryption')?.algorithm)],
  ];
  for (const [key, value] of optional) if (value !== undefined) out[key] = value;
  if (allowedRoomIds.length > 0) out.allowed_room_ids = allowedRoomIds;
  if (userId !== undefined) out.membership = membership ?? 'leave';
  return out;
}
