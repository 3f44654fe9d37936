/**
 * Handlers for account data, tags, filters, capabilities, OpenID tokens and content reports.
 * Everything under /user/{userId} acts on the requester's own data only (403 otherwise).
 */
import { MatrixError, errors, isJsonObject, looksLikeEventId, looksLikeRoomId, looksLikeUserId, type JsonObject } from '@hs/core';
import type { Handler, RequestContext, Requester } from '@hs/http';
import { LocalAccountDataWriter, getGlobalAccountData, getRoomAccountData, getRoomTags, type AccountDataWriter } from './account-data-store.ts';
import { buildCapabilities } from './capabilities.ts';
import type { AccountDataDeps } from './deps.ts';
import { createFilter, getFilter } from './filters.ts';
import { issueOpenIdToken } from './openid.ts';
import { addEventReport, addRoomReport, addUserReport } from './reports.ts';

/** Types the server manages through other APIs; clients may read but not write them here. */
const SERVER_MANAGED_TYPES: Record<string, string> = {
  'm.fully_read': 'Cannot set m.fully_read through this API. Use /rooms/{roomId}/read_markers',
  'm.push_rules': 'Cannot set m.push_rules through this API. Use /pushrules',
};
/** Synapse's cap on a user report's reason. */
const MAX_USER_REPORT_REASON = 1000;

function requesterOf(ctx: RequestContext): Requester {
  if (!ctx.requester) throw errors.missingToken();
  return ctx.requester;
}

function param(ctx: RequestContext, name: string): string {
  return ctx.params[name] ?? '';
}

/** The `{userId}` of the path, which must be the requester. */
function ownUser(ctx: RequestContext, what: string): string {
  const userId = param(ctx, 'userId');
  if (userId !== requesterOf(ctx).userId) throw errors.forbidden(`Cannot ${what} for other users.`);
  return userId;
}

function roomIdParam(ctx: RequestContext): string {
  const roomId = param(ctx, 'roomId');
  if (!looksLikeRoomId(roomId)) throw errors.invalidParam(`${roomId} is not a valid room ID`);
  return roomId;
}

function writableType(ctx: RequestContext): string {
  const type = param(ctx, 'type');
  const refusal = SERVER_MANAGED_TYPES[type];
  if (refusal) throw new MatrixError(405, 'M_BAD_JSON', refusal);
  return type;
}

function objectBody(ctx: RequestContext): JsonObject {
  if (ctx.body === undefined) throw errors.notJson('Content not JSON.');
  if (!isJsonObject(ctx.body)) throw errors.badJson('Content must be a JSON object.');
  return ctx.body;
}

export function createAccountDataHandlers(deps: AccountDataDeps): Map<string, Handler> {
  const clock = deps.clock ?? Date.now;
  let writer: AccountDataWriter;
  if (deps.accountDataWriter) writer = deps.accountDataWriter;
  else if (deps.accountDataStream) writer = new LocalAccountDataWriter({ sql: deps.sql, stream: deps.accountDataStream, notify: deps.notify });
  else throw new Error('createAccountDataHandlers needs accountDataStream or accountDataWriter');
  const capabilities = buildCapabilities({
    ...deps.capabilities,
    ...(deps.defaultRoomVersion !== undefined ? { defaultRoomVersion: deps.defaultRoomVersion } : {}),
  });
  const { sql } = deps;

  const handlers: [string, Handler][] = [
    [
      'account_data_get',
      async (ctx) => {
        const userId = ownUser(ctx, 'get account data');
        const type = param(ctx, 'type');
        const content = type === 'm.push_rules' && deps.getPushRules ? await deps.getPushRules(userId) : await getGlobalAccountData(sql, userId, type);
        if (!content) throw errors.notFound('Account data not found.');
        return { body: content };
      },
    ],
    [
      'account_data_set',
      async (ctx) => {
        const userId = ownUser(ctx, 'add account data');
        const type = writableType(ctx);
        await writer.setGlobal(userId, type, objectBody(ctx));
        return { body: {} };
      },
    ],
    [
      'room_account_data_get',
      async (ctx) => {
        const userId = ownUser(ctx, 'get account data');
        const roomId = roomIdParam(ctx);
        const type = param(ctx, 'type');
        // Push rules are global; Synapse answers an empty object for them per room.
        const content = type === 'm.push_rules' ? {} : await getRoomAccountData(sql, userId, roomId, type);
        if (!content) throw errors.notFound('Room account data not found.');
        return { body: content };
      },
    ],
    [
      'room_account_data_set',
      async (ctx) => {
        const userId = ownUser(ctx, 'add account data');
        const roomId = roomIdParam(ctx);
        const type = writableType(ctx);
        await writer.setRoom(userId, roomId, type, objectBody(ctx));
        return { body: {} };
      },
    ],
    [
      'room_tags_get',
      async (ctx) => {
        const userId = ownUser(ctx, 'get tags');
        const roomId = roomIdParam(ctx);
        return { body: { tags: await getRoomTags(sql, userId, roomId) } };
      },
    ],
    [
      'room_tag_set',
      async (ctx) => {
        const userId = ownUser(ctx, 'add tags');
        const roomId = roomIdParam(ctx);
        await writer.addTag(userId, roomId, param(ctx, 'tag'), objectBody(ctx));
        return { body: {} };
      },
    ],
    [
      'room_tag_delete',
      async (ctx) => {
        const userId = ownUser(ctx, 'remove tags');
        const roomId = roomIdParam(ctx);
        await writer.removeTag(userId, roomId, param(ctx, 'tag'));
        return { body: {} };
      },
    ],
    [
      'filter_create',
      async (ctx) => {
        const userId = ownUser(ctx, 'create filters');
        // The body was validated against client/filter by the listener.
        return { body: { filter_id: await createFilter(sql, userId, objectBody(ctx)) } };
      },
    ],
    [
      'filter_get',
      async (ctx) => {
        const userId = ownUser(ctx, 'get filters');
        const filter = await getFilter(sql, userId, param(ctx, 'filterId'));
        if (!filter) throw errors.notFound('No such filter.');
        return { body: filter };
      },
    ],
    ['capabilities', () => ({ body: capabilities })],
    [
      'openid_request_token',
      async (ctx) => {
        const userId = ownUser(ctx, 'request OpenID tokens');
        const token = await issueOpenIdToken(sql, userId, deps.serverName, {
          now: clock(),
          ...(deps.openIdTokenLifetimeMs !== undefined ? { lifetimeMs: deps.openIdTokenLifetimeMs } : {}),
        });
        return { body: { ...token } };
      },
    ],
    [
      'report_event',
      async (ctx) => {
        const me = requesterOf(ctx);
        const roomId = roomIdParam(ctx);
        const eventId = param(ctx, 'eventId');
        if (!looksLikeEventId(eventId)) throw errors.invalidParam(`${eventId} is not a valid event ID`);
        const body = objectBody(ctx);
        const visible = (await deps.isJoined(roomId, me.userId)) && (await deps.canSeeEvent(me.userId, roomId, eventId));
        if (!visible) throw errors.notFound("Unable to report event: it does not exist or you aren't able to see it.");
        const score = body.score;
        await addEventReport(sql, {
          roomId,
          eventId,
          userId: me.userId,
          reason: typeof body.reason === 'string' ? body.reason : null,
          // `score` left the spec in v1.18; a well-formed one is still kept for admins.
          score: Number.isInteger(score) && (score as number) >= -100 && (score as number) <= 0 ? (score as number) : null,
          content: body,
          receivedTs: clock(),
        });
        return { body: {} };
      },
    ],
    [
      'report_room',
      async (ctx) => {
        const me = requesterOf(ctx);
        const roomId = roomIdParam(ctx);
        const body = objectBody(ctx);
        if (!(await deps.roomExists(roomId))) throw errors.notFound('Room does not exist.');
        await addRoomReport(sql, { roomId, userId: me.userId, reason: body.reason as string, receivedTs: clock() });
        return { body: {} };
      },
    ],
    [
      'report_user',
      async (ctx) => {
        const me = requesterOf(ctx);
        const target = param(ctx, 'userId');
        if (!looksLikeUserId(target)) throw errors.invalidParam(`${target} is not a valid user ID`);
        const reason = objectBody(ctx).reason as string;
        if (reason.length > MAX_USER_REPORT_REASON) throw errors.badJson(`Reason must be less than ${MAX_USER_REPORT_REASON} characters`);
        // Reports about remote or unknown users are accepted and dropped, so the answer reveals nothing.
        if (target.endsWith(`:${deps.serverName}`) && (await deps.userExists(target))) {
          await addUserReport(sql, { targetUserId: target, userId: me.userId, reason, receivedTs: clock() });
        }
        return { body: {} };
      },
    ],
  ];
  return new Map(handlers);
}
