/**
 * HTTP handlers for the room API (endpoints.ts): parse and check what the client sent (bodies
 * arrive validated against their schemas), then call the operation. Every expected failure is a
 * 4xx MatrixError.
 */
import type { JsonObject } from '@hs/core';
import { errors, isJsonObject } from '@hs/core';
import type { Handler, RequestContext } from '@hs/http';
import { queryBool, queryInt, queryString } from '@hs/http';
import type { RoomApiDeps } from './deps.ts';
import { createRoomApi } from './api.ts';
import { RoomApiIndexer } from './indexer.ts';
import {
  forbiddenGuest,
  directionParam,
  limitParam,
  optionalRequester,
  param,
  rejectNul,
  requester,
  requireEventId,
  requireRoomId,
} from './params.ts';
import { parseRoomEventFilter } from './room-event-filter.ts';
import { getMessages } from './messages.ts';
import { getEventContext } from './event-context.ts';
import { getRelations } from './relations-api.ts';
import { getThreads } from './threads.ts';
import { timestampToEvent } from './timestamp-lookup.ts';
import { redactEvent } from './redact.ts';
import { deleteAlias, getAlias, listRoomAliases, putAlias } from './aliases.ts';
import { getDirectoryVisibility, listPublicRooms, publicRoomsQueryFromBody, setDirectoryVisibility } from './public-rooms.ts';
import { getRoomSummary } from './room-summary.ts';
import { RoomUpgrader } from './upgrade.ts';
import { searchRoomEvents } from './search.ts';
import { searchUserDirectory } from './user-directory.ts';

/** Synapse's caps. */
const MESSAGES_MAX_LIMIT = 1000;
const CONTEXT_MAX_LIMIT = 100;
const RELATIONS_MAX_LIMIT = 1000;
const THREADS_MAX_LIMIT = 100;

/** The indexer for these deps (share it with the background duty; see indexer.ts). */
export function createRoomApiIndexer(deps: RoomApiDeps): RoomApiIndexer {
  return new RoomApiIndexer({ sql: deps.sql, store: deps.rooms.store, log: deps.log, position: () => deps.eventsPosition() });
}

export function createRoomApiHandlers(deps: RoomApiDeps): Map<string, Handler> {
  const api = createRoomApi(deps, deps.indexer ?? createRoomApiIndexer(deps));
  const upgrader = new RoomUpgrader(api);
  const handlers = new Map<string, Handler>();
  const set = (name: string, handler: Handler) => handlers.set(name, rejectNul(handler));
  const roomParam = (ctx: RequestContext) => {
    const roomId = param(ctx, 'roomId');
    requireRoomId(roomId);
    return roomId;
  };

  set('room_messages', async (ctx) => {
    const r = requester(ctx);
    const roomId = roomParam(ctx);
    const from = queryString(ctx.req, 'from');
    const to = queryString(ctx.req, 'to');
    const body = await getMessages(api, r, {
      roomId,
      dir: directionParam(ctx, 'f'),
      limit: limitParam(ctx, 10, MESSAGES_MAX_LIMIT),
      filter: parseRoomEventFilter(queryString(ctx.req, 'filter')),
      ...(from !== undefined ? { from } : {}),
      ...(to !== undefined ? { to } : {}),
    });
    return { body };
  });

  set('room_context', async (ctx) => {
    const r = requester(ctx);
    const roomId = roomParam(ctx);
    const eventId = param(ctx, 'eventId');
    requireEventId(eventId);
    const limit = limitParam(ctx, 10, CONTEXT_MAX_LIMIT);
    return { body: await getEventContext(api, r, roomId, eventId, limit, parseRoomEventFilter(queryString(ctx.req, 'filter'))) };
  });

  const relations: Handler = async (ctx) => {
    const r = requester(ctx);
    const roomId = roomParam(ctx);
    const parentId = param(ctx, 'eventId');
    requireEventId(parentId);
    const recurse = queryBool(ctx.req, 'recurse') ?? queryBool(ctx.req, 'org.matrix.msc3981.recurse');
    const from = queryString(ctx.req, 'from');
    const to = queryString(ctx.req, 'to');
    const body = await getRelations(api, r, {
      roomId,
      parentId,
      ...(ctx.params.relType !== undefined ? { relType: ctx.params.relType } : {}),
      ...(ctx.params.eventType !== undefined ? { eventType: ctx.params.eventType } : {}),
      ...(from ? { from } : {}),
      ...(to ? { to } : {}),
      dir: directionParam(ctx, 'b'),
      limit: limitParam(ctx, 5, RELATIONS_MAX_LIMIT, 1),
      ...(recurse !== undefined ? { recurse } : {}),
    });
    return { body };
  };
  set('room_relations', relations);
  set('room_relations_type', relations);
  set('room_relations_type_event', relations);

  set('room_threads', async (ctx) => {
    const r = requester(ctx);
    const roomId = roomParam(ctx);
    const include = queryString(ctx.req, 'include') ?? 'all';
    if (include !== 'all' && include !== 'participated') throw errors.invalidParam("include must be 'all' or 'participated'");
    const limit = limitParam(ctx, 5, THREADS_MAX_LIMIT, 1);
    const from = queryString(ctx.req, 'from');
    return { body: await getThreads(api, r, roomId, include, limit, from || undefined) };
  });

  set('room_timestamp_to_event', async (ctx) => {
    const r = requester(ctx);
    const roomId = roomParam(ctx);
    const ts = queryInt(ctx.req, 'ts');
    if (ts === undefined) throw errors.missingParam('Missing query parameter: ts');
    return { body: await timestampToEvent(api, r, roomId, ts, directionParam(ctx)) };
  });

  set('room_redact', async (ctx) => {
    const r = requester(ctx);
    const roomId = roomParam(ctx);
    const eventId = param(ctx, 'eventId');
    requireEventId(eventId);
    const body = isJsonObject(ctx.body) ? ctx.body : {};
    const reason = typeof body.reason === 'string' ? body.reason : undefined;
    return { body: await redactEvent(api, r, roomId, eventId, param(ctx, 'txnId'), reason) };
  });

  set('directory_alias_get', async (ctx) => ({ body: await getAlias(api, param(ctx, 'roomAlias')) }));
  set('directory_alias_put', async (ctx) => {
    const r = requester(ctx);
    forbiddenGuest(r);
    const body = ctx.body as { room_id: string };
    requireRoomId(body.room_id);
    return { body: await putAlias(api, r, param(ctx, 'roomAlias'), body.room_id) };
  });
  set('directory_alias_delete', async (ctx) => {
    const r = requester(ctx);
    forbiddenGuest(r);
    return { body: await deleteAlias(api, r, param(ctx, 'roomAlias')) };
  });
  set('room_aliases', async (ctx) => ({ body: await listRoomAliases(api, requester(ctx), roomParam(ctx)) }));

  set('directory_visibility_get', async (ctx) => ({ body: await getDirectoryVisibility(api, roomParam(ctx)) }));
  set('directory_visibility_put', async (ctx) => {
    const r = requester(ctx);
    forbiddenGuest(r);
    const roomId = roomParam(ctx);
    const visibility = (ctx.body as { visibility?: 'public' | 'private' } | undefined)?.visibility ?? 'public';
    return { body: await setDirectoryVisibility(api, r, roomId, visibility) };
  });
  set('public_rooms_get', async (ctx) => {
    const limit = queryInt(ctx.req, 'limit');
    const since = queryString(ctx.req, 'since');
    const server = queryString(ctx.req, 'server');
    const body = await listPublicRooms(api, {
      ...(limit !== undefined ? { limit } : {}),
      ...(since !== undefined ? { since } : {}),
      ...(server !== undefined && server !== '' ? { server } : {}),
    });
    return { body };
  });
  set('public_rooms_post', async (ctx) => {
    requester(ctx);
    const server = queryString(ctx.req, 'server');
    const query = publicRoomsQueryFromBody((ctx.body ?? {}) as JsonObject, server !== undefined && server !== '' ? server : undefined);
    return { body: await listPublicRooms(api, query) };
  });

  if (!deps.authenticate) deps.log.warn('room-api has no authenticator: /room_summary answers every request as unauthenticated');
  set('room_summary', async (ctx) => {
    const r = await optionalRequester(ctx, deps.authenticate);
    // `via` names servers to ask when this one cannot summarise the room itself. Without federation
    // there is nobody to ask: the parameter is accepted and the room is summarised from local state.
    return { body: await getRoomSummary(api, r?.userId, param(ctx, 'roomIdOrAlias')) };
  });

  set('room_upgrade', async (ctx) => {
    const r = requester(ctx);
    forbiddenGuest(r);
    const roomId = roomParam(ctx);
    const body = ctx.body as { new_version: string; additional_creators?: string[] };
    return { body: { replacement_room: await upgrader.upgrade(r, roomId, body.new_version, body.additional_creators) } };
  });

  set('search', async (ctx) => {
    const r = requester(ctx);
    const nextBatch = queryString(ctx.req, 'next_batch');
    return { body: await searchRoomEvents(api, r, (ctx.body ?? {}) as JsonObject, nextBatch || undefined) };
  });
  set('user_directory_search', async (ctx) => {
    const r = requester(ctx);
    const body = ctx.body as { search_term: string; limit?: number };
    return { body: await searchUserDirectory(api, r, body.search_term, body.limit) };
  });

  return handlers;
}
