/**
 * Handlers for typing, receipts, read markers and presence. Behaviour follows the spec and, where it
 * is silent, Synapse: a receipt for an event the server does not know is accepted and ignored, one for
 * an event the user cannot see is refused, and the fully-read marker only moves forward.
 */
import { errors, isJsonObject, looksLikeEventId, looksLikeRoomId, looksLikeUserId, type JsonObject } from '@hs/core';
import type { Handler, RequestContext, Requester } from '@hs/http';
import type { EphemeralDeps } from './deps.ts';
import { KeyedLock } from './keyed-lock.ts';
import { defaultPresence, formatPresence, type PresenceValue } from './presence-state.ts';
import { getPresence } from './presence-store.ts';
import {
  LocalReceiptsWriter,
  READ_MARKER_FULLY_READ,
  RECEIPT_READ,
  RECEIPT_READ_PRIVATE,
  type ReceiptsWriter,
} from './receipts-store.ts';
import { systemClock } from './timer-wheel.ts';
import { DEFAULT_TYPING_TIMEOUT_MS, MAX_TYPING_TIMEOUT_MS } from './typing-state.ts';

const RECEIPT_TYPES = new Set([RECEIPT_READ, RECEIPT_READ_PRIVATE, READ_MARKER_FULLY_READ]);

function requesterOf(ctx: RequestContext): Requester {
  if (!ctx.requester) throw errors.missingToken();
  return ctx.requester;
}

function param(ctx: RequestContext, name: string): string {
  return ctx.params[name] ?? '';
}

function roomIdParam(ctx: RequestContext): string {
  const roomId = param(ctx, 'roomId');
  if (!looksLikeRoomId(roomId)) throw errors.invalidParam(`${roomId} is not a valid room ID`);
  return roomId;
}

function bodyOf(ctx: RequestContext): JsonObject {
  return isJsonObject(ctx.body) ? ctx.body : {};
}

export function createEphemeralHandlers(deps: EphemeralDeps): Map<string, Handler> {
  const clock = deps.clock ?? systemClock;
  let receipts: ReceiptsWriter;
  if (deps.receiptsWriter) receipts = deps.receiptsWriter;
  else if (deps.receiptsStream) receipts = new LocalReceiptsWriter({ sql: deps.sql, stream: deps.receiptsStream, notify: deps.notify });
  else throw new Error('createEphemeralHandlers needs receiptsStream or receiptsWriter');
  const markerLock = new KeyedLock();

  /** Activity bumps presence, but a presence failure must not fail the request that caused it. */
  async function bump(userId: string): Promise<void> {
    try {
      await deps.presence.bumpActive(userId);
    } catch (e) {
      deps.log.warn('presence bump failed', { error: String(e) });
    }
  }

  async function sendReceipt(userId: string, roomId: string, receiptType: string, eventId: string, threadId?: string): Promise<void> {
    const ordering = await deps.getEventStreamOrdering(roomId, eventId);
    // Synapse drops receipts for events it does not have (in this room) without an error.
    if (ordering === null) return;
    if (!(await deps.canSeeEvent(userId, roomId, eventId))) throw errors.forbidden("You don't have permission to access that event.");
    if (threadId !== undefined && !(await deps.isEventInThread(roomId, eventId, threadId))) {
      throw errors.invalidParam(`event_id ${eventId} is not related to thread ${threadId}`);
    }
    await receipts.insert({
      roomId,
      receiptType,
      userId,
      eventId,
      ...(threadId !== undefined ? { threadId } : {}),
      eventStreamOrdering: ordering,
      data: { ts: clock() },
    });
  }

  /** Move the `m.fully_read` marker (room account data) forward to `eventId`. */
  async function setFullyRead(userId: string, roomId: string, eventId: string): Promise<void> {
    await markerLock.run(`${roomId}\u0000${userId}`, async () => {
      const ordering = await deps.getEventStreamOrdering(roomId, eventId);
      if (ordering === null || !(await deps.canSeeEvent(userId, roomId, eventId))) throw errors.notFound('Event not found.');
      const existing = await deps.getRoomAccountData(userId, roomId, READ_MARKER_FULLY_READ);
      const previous = existing?.event_id;
      if (typeof previous === 'string') {
        if (previous === eventId) return;
        const previousOrdering = await deps.getEventStreamOrdering(roomId, previous);
        // A marker on an event that no longer exists (purged) is treated as behind.
        if (previousOrdering !== null && previousOrdering >= ordering) return;
      }
      await deps.setRoomAccountData(userId, roomId, READ_MARKER_FULLY_READ, { event_id: eventId });
    });
  }

  const typingSet: Handler = async (ctx) => {
    const me = requesterOf(ctx);
    const userId = param(ctx, 'userId');
    const roomId = roomIdParam(ctx);
    if (userId !== me.userId) throw errors.forbidden("Cannot set another user's typing state");
    const body = bodyOf(ctx);
    if (!(await deps.isJoined(roomId, userId))) throw errors.forbidden(`User ${userId} not in room ${roomId}`);
    if (body.typing === true) {
      const asked = typeof body.timeout === 'number' ? body.timeout : DEFAULT_TYPING_TIMEOUT_MS;
      await deps.typing.start(roomId, userId, Math.min(Math.max(asked, 0), MAX_TYPING_TIMEOUT_MS));
    } else {
      await deps.typing.stop(roomId, userId);
    }
    return { body: {} };
  };

  const receiptSend: Handler = async (ctx) => {
    const me = requesterOf(ctx);
    const roomId = roomIdParam(ctx);
    const receiptType = param(ctx, 'receiptType');
    const eventId = param(ctx, 'eventId');
    if (!looksLikeEventId(eventId)) throw errors.invalidParam(`${eventId} is not a valid event ID`);
    if (!RECEIPT_TYPES.has(receiptType)) throw errors.invalidParam(`Receipt type must be one of ${[...RECEIPT_TYPES].join(', ')}`);
    const body = bodyOf(ctx);
    let threadId: string | undefined;
    if ('thread_id' in body) {
      const t = body.thread_id;
      if (typeof t !== 'string' || t === '') throw errors.invalidParam('thread_id field must be a non-empty string');
      if (receiptType === READ_MARKER_FULLY_READ) throw errors.invalidParam(`thread_id is not compatible with ${READ_MARKER_FULLY_READ} receipts.`);
      if (t !== 'main' && !looksLikeEventId(t)) throw errors.invalidParam('thread_id must be "main" or a thread root event ID');
      threadId = t;
    }
    await bump(me.userId);
    if (receiptType === READ_MARKER_FULLY_READ) await setFullyRead(me.userId, roomId, eventId);
    else await sendReceipt(me.userId, roomId, receiptType, eventId, threadId);
    return { body: {} };
  };

  const readMarkersSet: Handler = async (ctx) => {
    const me = requesterOf(ctx);
    const roomId = roomIdParam(ctx);
    const body = bodyOf(ctx);
    const wanted: [string, string][] = [];
    for (const type of [READ_MARKER_FULLY_READ, RECEIPT_READ, RECEIPT_READ_PRIVATE]) {
      const eventId = body[type];
      // Empty values are skipped, as Synapse does; the schema has already checked they are strings.
      if (typeof eventId !== 'string' || eventId === '') continue;
      if (!looksLikeEventId(eventId)) throw errors.invalidParam(`${type}: ${eventId} is not a valid event ID`);
      wanted.push([type, eventId]);
    }
    await bump(me.userId);
    for (const [type, eventId] of wanted) {
      if (type === READ_MARKER_FULLY_READ) await setFullyRead(me.userId, roomId, eventId);
      else await sendReceipt(me.userId, roomId, type, eventId);
    }
    return { body: {} };
  };

  const presenceSet: Handler = async (ctx) => {
    const me = requesterOf(ctx);
    const userId = param(ctx, 'userId');
    if (userId !== me.userId) throw errors.forbidden('Can only set your own presence state');
    const body = bodyOf(ctx);
    // With presence disabled the request is accepted and nothing happens (Synapse).
    if (deps.presenceEnabled) {
      const statusMsg = typeof body.status_msg === 'string' ? body.status_msg : null;
      await deps.presence.setState(userId, body.presence as PresenceValue, statusMsg);
    }
    return { body: {} };
  };

  const presenceGet: Handler = async (ctx) => {
    const me = requesterOf(ctx);
    const userId = param(ctx, 'userId');
    if (!looksLikeUserId(userId)) throw errors.invalidParam(`${userId} is not a valid user ID`);
    if (!deps.presenceEnabled) return { body: { presence: 'offline' } };
    if (userId !== me.userId && !(await deps.sharesRoomWith(me.userId, userId))) {
      throw errors.forbidden('You are not allowed to see their presence.');
    }
    const state = (await getPresence(deps.sql, userId)) ?? defaultPresence(userId);
    return { body: formatPresence(state, clock()) };
  };

  return new Map<string, Handler>([
    ['typing_set', typingSet],
    ['receipt_send', receiptSend],
    ['read_markers_set', readMarkersSet],
    ['presence_set', presenceSet],
    ['presence_get', presenceGet],
  ]);
}
