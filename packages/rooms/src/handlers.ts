/**
 * HTTP handlers for the rooms endpoints (endpoints.ts). Bodies arrive validated against their
 * schemas; everything else a client can get wrong maps to a 4xx here or in the operations.
 */
import type { JsonObject } from '@hs/core';
import { MatrixError, TokenError, decodeRoomToken, decodeSyncToken, errors, isJsonObject, maxPosition } from '@hs/core';
import type { Handler, RequestContext, Requester } from '@hs/http';
import { queryString } from '@hs/http';
import { stateKey } from '@hs/events';
import type { RoomsDeps } from './deps.ts';
import type { RoomsService } from './rooms-service.ts';
import { createRoomsService } from './rooms-service.ts';
import type { CreateRoomBody } from './create-room.ts';
import type { MembershipAction } from './membership.ts';
import { loadEventsForClient, serializeEvent, serializeEvents } from './client-events.ts';
import { filterEventsForUser, stateAccessFor } from './visibility.ts';
import { hasNul, isValidRoomAlias, isValidUserId, serverOf, txnScopeOf } from './ids.ts';

function requester(ctx: RequestContext): Requester {
  if (!ctx.requester) throw errors.missingToken();
  return ctx.requester;
}

function param(ctx: RequestContext, name: string): string {
  return ctx.params[name] ?? '';
}

/** PUT bodies are required JSON objects (the event content). */
function contentBody(ctx: RequestContext): JsonObject {
  if (ctx.body === undefined) throw errors.notJson('Content not JSON.');
  if (!isJsonObject(ctx.body)) throw errors.badJson('Content must be a JSON object.');
  return ctx.body;
}

function optionalReason(body: unknown): string | undefined {
  return isJsonObject(body) && typeof body.reason === 'string' ? body.reason : undefined;
}

function noGuests(r: Requester): void {
  if (r.isGuest) throw new MatrixError(403, 'M_GUEST_ACCESS_FORBIDDEN', 'Guest access not allowed');
}

function requireRoomId(roomId: string): void {
  if (!roomId.startsWith('!')) throw errors.invalidParam(`${roomId} is not a room ID`);
}

const FEDERATION_MISSING = 'joining rooms on other servers needs federation, which is not available';

/** A room ID or one of our aliases → a room this server holds; else 404 (remote rooms need federation). */
async function resolveLocalRoom(service: RoomsService, roomIdOrAlias: string): Promise<string> {
  let roomId: string;
  if (roomIdOrAlias.startsWith('#')) {
    if (!isValidRoomAlias(roomIdOrAlias)) throw errors.invalidParam(`${roomIdOrAlias} is not a valid room alias`);
    if (serverOf(roomIdOrAlias) !== service.deps.serverName) throw errors.notFound(`Room alias ${roomIdOrAlias} is on another server: ${FEDERATION_MISSING}`);
    const found = await service.store.resolveAlias(roomIdOrAlias);
    if (found === undefined) throw errors.notFound(`Room alias ${roomIdOrAlias} not found`);
    roomId = found;
  } else if (roomIdOrAlias.startsWith('!')) {
    roomId = roomIdOrAlias;
  } else {
    throw errors.invalidParam(`${roomIdOrAlias} is neither a room ID nor a room alias`);
  }
  if ((await service.store.getRoomVersion(roomId)) === undefined) {
    throw errors.notFound(`Room ${roomId} is not known to this server; ${FEDERATION_MISSING}`);
  }
  return roomId;
}

const MEMBERSHIPS = new Set(['join', 'invite', 'knock', 'leave', 'ban']);

function membershipParam(ctx: RequestContext, name: string): string | undefined {
  const v = queryString(ctx.req, name);
  if (v === undefined || v === '') return undefined;
  if (!MEMBERSHIPS.has(v)) throw errors.invalidParam(`${name} must be one of join, invite, knock, leave, ban`);
  return v;
}

/** The `events` stream position a /sync `next_batch` or a room pagination token names. */
function streamPositionOf(token: string): number {
  try {
    if (token.startsWith('t')) return maxPosition(decodeRoomToken(token).stream);
    return maxPosition(decodeSyncToken(token).events);
  } catch (e) {
    if (e instanceof TokenError) throw errors.invalidParam(`Invalid pagination token: ${e.message}`);
    throw e;
  }
}

/** Path and query values go into SQL; Postgres text cannot hold NUL, so refuse it up front. */
function rejectNul(handler: Handler): Handler {
  return (ctx) => {
    const query = Object.values(ctx.req.query as Record<string, unknown>).flat();
    for (const v of [...Object.values(ctx.params), ...query]) {
      if (typeof v === 'string' && hasNul(v)) throw errors.invalidParam('Parameters cannot contain NUL characters');
    }
    return handler(ctx);
  };
}

export function createRoomsHandlers(deps: RoomsDeps, service: RoomsService = createRoomsService(deps)): Map<string, Handler> {
  const store = service.store;
  const handlers = new Map<string, Handler>();
  const h = { set: (name: string, handler: Handler) => handlers.set(name, rejectNul(handler)) };

  h.set('create_room', async (ctx) => {
    const r = requester(ctx);
    noGuests(r);
    const { roomId } = await service.createRoom(r.userId, (ctx.body ?? {}) as CreateRoomBody);
    return { body: { room_id: roomId } };
  });

  h.set('room_send', async (ctx) => {
    const r = requester(ctx);
    const roomId = param(ctx, 'roomId');
    requireRoomId(roomId);
    const content = contentBody(ctx);
    const { eventId } = await service.sendMessageEvent({
      roomId,
      sender: r.userId,
      type: param(ctx, 'eventType'),
      content,
      txn: { scope: txnScopeOf(r), txnId: param(ctx, 'txnId') },
    });
    return { body: { event_id: eventId } };
  });

  // ---- state ----

  const stateFor = async (userId: string, roomId: string, filter?: ReadonlyArray<readonly [string, string | null]>) => {
    const access = await stateAccessFor(store, userId, roomId);
    if (access.kind === 'current') return store.getCurrentState(roomId, filter);
    return (await store.getStateAt(access.eventId, filter)) ?? new Map();
  };

  h.set('room_state', async (ctx) => {
    const r = requester(ctx);
    const roomId = param(ctx, 'roomId');
    const state = await stateFor(r.userId, roomId);
    return { body: await serializeEvents(store, [...state.values()], 'client', { requester: r, now: service.clock() }) };
  });

  const getStateEvent: Handler = async (ctx) => {
    const r = requester(ctx);
    const roomId = param(ctx, 'roomId');
    const type = param(ctx, 'eventType');
    const key = ctx.params.stateKey ?? '';
    const format = queryString(ctx.req, 'format') ?? 'content';
    if (format !== 'content' && format !== 'event') throw errors.invalidParam('format must be content or event');
    const state = await stateFor(r.userId, roomId, [[type, key]]);
    const eventId = state.get(stateKey(type, key));
    const [src] = eventId === undefined ? [] : await loadEventsForClient(store, [eventId]);
    if (!src) throw errors.notFound('Event not found.');
    if (format === 'event') return { body: serializeEvent(src, 'client', { requester: r, now: service.clock() }) };
    return { body: isJsonObject(src.pdu.content) ? src.pdu.content : {} };
  };
  h.set('room_state_get', getStateEvent);
  h.set('room_state_get_slash', getStateEvent);
  h.set('room_state_get_key', getStateEvent);

  const putStateEvent: Handler = async (ctx) => {
    const r = requester(ctx);
    noGuests(r);
    const roomId = param(ctx, 'roomId');
    requireRoomId(roomId);
    const content = contentBody(ctx);
    const { eventId } = await service.sendStateEvent({
      roomId,
      sender: r.userId,
      type: param(ctx, 'eventType'),
      stateKey: ctx.params.stateKey ?? '',
      content,
    });
    return { body: { event_id: eventId } };
  };
  h.set('room_state_put', putStateEvent);
  h.set('room_state_put_slash', putStateEvent);
  h.set('room_state_put_key', putStateEvent);

  h.set('room_event', async (ctx) => {
    const r = requester(ctx);
    const roomId = param(ctx, 'roomId');
    const ev = await store.getEvent(param(ctx, 'eventId'));
    const notFound = () => errors.notFound('Event not found.');
    if (!ev || ev.roomId !== roomId || ev.outlier || ev.rejectedReason !== undefined) throw notFound();
    const [visible] = await filterEventsForUser(store, r.userId, [ev]);
    if (!visible) throw notFound();
    const [src] = await loadEventsForClient(store, [ev]);
    if (!src) throw notFound();
    return { body: serializeEvent(src, 'client', { requester: r, now: service.clock(), membership: visible.membership }) };
  });

  // ---- membership ----

  const membership = (action: Exclude<MembershipAction, 'join' | 'knock' | 'leave'>): Handler => async (ctx) => {
    const r = requester(ctx);
    noGuests(r);
    const roomId = param(ctx, 'roomId');
    requireRoomId(roomId);
    const body = ctx.body as { user_id: string; reason?: string };
    if (!isValidUserId(body.user_id)) throw errors.invalidParam(`${body.user_id} is not a valid user ID`);
    await service.updateMembership({ roomId, sender: r.userId, target: body.user_id, action, reason: body.reason });
    return { body: {} };
  };
  h.set('room_invite', membership('invite'));
  h.set('room_kick', membership('kick'));
  h.set('room_ban', membership('ban'));
  h.set('room_unban', membership('unban'));

  const join = async (r: Requester, roomId: string, body: unknown) => {
    await service.updateMembership({ roomId, sender: r.userId, target: r.userId, action: 'join', reason: optionalReason(body), isGuest: r.isGuest });
    return { body: { room_id: roomId } };
  };
  h.set('room_join', async (ctx) => {
    const r = requester(ctx);
    const roomId = param(ctx, 'roomId');
    requireRoomId(roomId);
    return join(r, await resolveLocalRoom(service, roomId), ctx.body);
  });
  h.set('join', async (ctx) => {
    const r = requester(ctx);
    // `via` / `server_name` name servers to join through; local rooms need none.
    return join(r, await resolveLocalRoom(service, param(ctx, 'roomIdOrAlias')), ctx.body);
  });
  h.set('knock', async (ctx) => {
    const r = requester(ctx);
    noGuests(r);
    const roomId = await resolveLocalRoom(service, param(ctx, 'roomIdOrAlias'));
    await service.updateMembership({ roomId, sender: r.userId, target: r.userId, action: 'knock', reason: optionalReason(ctx.body) });
    return { body: { room_id: roomId } };
  });
  h.set('room_leave', async (ctx) => {
    const r = requester(ctx);
    const roomId = param(ctx, 'roomId');
    requireRoomId(roomId);
    await service.updateMembership({ roomId, sender: r.userId, target: r.userId, action: 'leave', reason: optionalReason(ctx.body), isGuest: r.isGuest });
    return { body: {} };
  });
  h.set('room_forget', async (ctx) => {
    const r = requester(ctx);
    noGuests(r);
    await service.forgetRoom(r.userId, param(ctx, 'roomId'));
    return { body: {} };
  });

  // ---- membership reads ----

  h.set('joined_rooms', async (ctx) => {
    const r = requester(ctx);
    return { body: { joined_rooms: await store.getJoinedRooms(r.userId) } };
  });

  h.set('room_joined_members', async (ctx) => {
    const r = requester(ctx);
    noGuests(r);
    const roomId = param(ctx, 'roomId');
    const m = await store.getLocalMembership(roomId, r.userId);
    if (m?.membership !== 'join') throw errors.forbidden('Getting joined members while not being a current member of the room is forbidden');
    const joined: Record<string, JsonObject> = {};
    for (const [userId, p] of await store.getJoinedMembers(roomId)) {
      const entry: JsonObject = {};
      if (p.displayname !== undefined) entry.display_name = p.displayname;
      if (p.avatarUrl !== undefined) entry.avatar_url = p.avatarUrl;
      joined[userId] = entry;
    }
    return { body: { joined } };
  });

  h.set('room_members', async (ctx) => {
    const r = requester(ctx);
    const roomId = param(ctx, 'roomId');
    const want = membershipParam(ctx, 'membership');
    const notWant = membershipParam(ctx, 'not_membership');
    const at = queryString(ctx.req, 'at');
    const access = await stateAccessFor(store, r.userId, roomId);
    const filter = [['m.room.member', null]] as const;
    let state;
    if (at !== undefined && at !== '') {
      let position = streamPositionOf(at);
      // Someone who left sees the room as it was when they left, at the latest.
      if (access.kind === 'at_leave') {
        const leave = await store.getEvent(access.eventId);
        if (leave) position = Math.min(position, leave.streamOrdering);
      }
      state = (await store.getStateAtStream(roomId, position, filter)) ?? new Map();
    } else if (access.kind === 'current') {
      state = await store.getCurrentState(roomId, filter);
    } else {
      state = (await store.getStateAt(access.eventId, filter)) ?? new Map();
    }
    const sources = await loadEventsForClient(store, [...state.values()]);
    const now = service.clock();
    // Both filters together are an "or", as the spec words it.
    const keep = (m: string) => {
      if (want === undefined && notWant === undefined) return true;
      return (want !== undefined && m === want) || (notWant !== undefined && m !== notWant);
    };
    const chunk = sources
      .filter((s) => keep(s.event.membership ?? ''))
      .map((s) => serializeEvent(s, 'client', { requester: r, now }));
    return { body: { chunk } };
  });

  return handlers;
}
