/**
 * Room aliases (directory.yaml): PUT/GET/DELETE /directory/room/{roomAlias} and GET
 * /rooms/{roomId}/aliases, on the `room_aliases` table of @hs/rooms. As Synapse: only members of a
 * room may point an alias at it; an alias's creator, the room's moderators (who could set its
 * canonical alias) and server admins may delete it, and deleting one also takes it out of the
 * room's m.room.canonical_alias (best effort). Remote aliases need federation, which is absent.
 */
import type { JsonObject } from '@hs/core';
import { MatrixError, errors, isJsonObject } from '@hs/core';
import type { Requester } from '@hs/http';
import { isValidRoomAlias, serverOf } from '@hs/rooms';
import type { RoomApi } from './api.ts';
import { canChangeRoomList } from './room-permissions.ts';
import { roomReadAccess } from './room-access.ts';

const FEDERATION_MISSING = 'resolving aliases of other servers needs federation, which is not available';

/** A well-formed alias (`#local:server`, non-empty localpart, ≤ 255 bytes), else 400. */
export function checkAlias(alias: string): void {
  if (!isValidRoomAlias(alias) || alias.startsWith('#:')) throw errors.invalidParam(`Room alias ${alias} is invalid`);
}

function requireLocal(api: RoomApi, alias: string, what: string): void {
  if (serverOf(alias) !== api.serverName) throw errors.invalidParam(`Room alias must be local to ${what}`);
}

export async function putAlias(api: RoomApi, r: Requester, alias: string, roomId: string): Promise<JsonObject> {
  checkAlias(alias);
  requireLocal(api, alias, 'create it');
  if ((await api.store.getRoomVersion(roomId)) === undefined) throw errors.notFound(`Room ${roomId} not found`);
  const m = await api.store.getLocalMembership(roomId, r.userId);
  if (m?.membership !== 'join') throw errors.forbidden('You must be in the room to create an alias for it');
  const inserted = await api.sql`
    INSERT INTO room_aliases (room_alias, room_id, creator, created_ts)
    VALUES (${alias}, ${roomId}, ${r.userId}, ${api.now()}) ON CONFLICT DO NOTHING`;
  if (inserted.count === 0) throw new MatrixError(409, 'M_ROOM_IN_USE', `Room alias ${alias} already exists`);
  return {};
}

export async function getAlias(api: RoomApi, alias: string): Promise<JsonObject> {
  checkAlias(alias);
  if (serverOf(alias) !== api.serverName) throw errors.notFound(`Room alias ${alias} not found: ${FEDERATION_MISSING}`);
  const roomId = await api.store.resolveAlias(alias);
  if (roomId === undefined) throw errors.notFound(`Room alias ${alias} not found`);
  // Servers that can help join: ours first, then the other servers with joined members.
  const hosts = await api.sql<{ host: string }[]>`
    SELECT DISTINCT substr(state_key, strpos(state_key, ':') + 1) AS host FROM current_state_events
    WHERE room_id = ${roomId} AND type = 'm.room.member' AND membership = 'join'`;
  const others = hosts.map((h) => h.host).filter((h) => h !== api.serverName).sort();
  return { room_id: roomId, servers: [api.serverName, ...others] };
}

export async function deleteAlias(api: RoomApi, r: Requester, alias: string): Promise<JsonObject> {
  checkAlias(alias);
  requireLocal(api, alias, 'delete it');
  const [row] = await api.sql<{ room_id: string; creator: string }[]>`
    SELECT room_id, creator FROM room_aliases WHERE room_alias = ${alias}`;
  if (!row) throw errors.notFound(`Room alias ${alias} not found`);
  const allowed = row.creator === r.userId || (await canChangeRoomList(api.store, row.room_id, r.userId, r.isAdmin));
  if (!allowed) throw errors.forbidden("You don't have permission to delete the alias.");
  const deleted = await api.sql`DELETE FROM room_aliases WHERE room_alias = ${alias} AND room_id = ${row.room_id}`;
  if (deleted.count === 0) throw errors.notFound(`Room alias ${alias} not found`);
  await removeFromCanonicalAlias(api, r.userId, row.room_id, alias);
  return {};
}

/** Drop `alias` from the room's canonical alias event, if it is there and the user may send one. */
async function removeFromCanonicalAlias(api: RoomApi, userId: string, roomId: string, alias: string): Promise<void> {
  const [ev] = await api.store.getCurrentStateEvents(roomId, [['m.room.canonical_alias', '']]);
  if (!ev || ev.redactedBy !== undefined || !isJsonObject(ev.pdu.content)) return;
  const content: JsonObject = { ...ev.pdu.content };
  let changed = false;
  if (content.alias === alias) {
    delete content.alias;
    changed = true;
  }
  if (Array.isArray(content.alt_aliases) && content.alt_aliases.includes(alias)) {
    content.alt_aliases = content.alt_aliases.filter((a) => a !== alias);
    changed = true;
  }
  if (!changed) return;
  try {
    await api.rooms.sendStateEvent({ roomId, sender: userId, type: 'm.room.canonical_alias', stateKey: '', content });
  } catch (e) {
    api.deps.log.info('could not update the canonical alias after deleting an alias', { room_id: roomId, error: String(e) });
  }
}

export async function listRoomAliases(api: RoomApi, r: Requester, roomId: string): Promise<JsonObject> {
  if (!r.isAdmin) await roomReadAccess(api.store, r.userId, roomId);
  const rows = await api.sql<{ room_alias: string }[]>`
    SELECT room_alias FROM room_aliases WHERE room_id = ${roomId} ORDER BY created_ts, room_alias`;
  return { aliases: rows.map((x) => x.room_alias) };
}
