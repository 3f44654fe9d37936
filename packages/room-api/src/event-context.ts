/**
 * GET /rooms/{roomId}/context/{eventId} (event_context.yaml): the event, up to `limit` events
 * around it (half before, the rest after, as Synapse splits it), the room state after the last
 * event returned, and tokens to paginate on with /messages. The filter applies to the events around
 * and to the state, never to the event itself.
 */
import type { JsonObject } from '@hs/core';
import { errors } from '@hs/core';
import type { Requester } from '@hs/http';
import type { RoomApi } from './api.ts';
import { encodePosition, positionAfter, positionBefore } from './positions.ts';
import type { RoomEventFilter } from './room-event-filter.ts';
import { matchesFilter } from './room-event-filter.ts';
import { paginateTimeline } from './timeline.ts';
import { roomReadAccess, visibleEvents } from './room-access.ts';
import { serveEvents } from './serve.ts';
import { lazyMemberState } from './member-state.ts';

export async function getEventContext(api: RoomApi, r: Requester, roomId: string, eventId: string, limit: number, filter: RoomEventFilter): Promise<JsonObject> {
  const { store } = api;
  const access = await roomReadAccess(store, r.userId, roomId);
  const ev = await store.getEvent(eventId);
  const notFound = () => errors.notFound(`Event ${eventId} not found`);
  if (!ev || ev.roomId !== roomId || ev.outlier || ev.rejectedReason !== undefined) throw notFound();
  const ignored = await api.ignoredBy(r.userId);
  const [target] = await visibleEvents(store, r.userId, [ev], ignored);
  if (!target) throw notFound();

  const beforeLimit = Math.floor(limit / 2);
  const [before, after] = await Promise.all([
    paginateTimeline(store, roomId, positionBefore(ev), 'b', beforeLimit, filter),
    paginateTimeline(store, roomId, positionAfter(ev), 'f', limit - beforeLimit, filter, access.until),
  ]);
  const [visBefore, visAfter] = await Promise.all([
    visibleEvents(store, r.userId, before.events, ignored),
    visibleEvents(store, r.userId, after.events, ignored),
  ]);
  const oldest = before.events.at(-1);
  const newest = after.events.at(-1);
  const lastShown = newest ?? ev;
  const senders = [...visBefore, target, ...visAfter].map((v) => v.event.sender);
  const state = filter.lazyLoadMembers
    ? await lazyMemberState(store, lastShown.eventId, senders)
    : await store.getEventList([...((await store.getStateAt(lastShown.eventId)) ?? new Map()).values()]);

  const serving = api.serving(r, ignored);
  const [eventsBefore, [event], eventsAfter, stateOut] = await Promise.all([
    serveEvents(serving, visBefore),
    serveEvents(serving, [target]),
    serveEvents(serving, visAfter),
    serveEvents(serving, state.filter((s) => matchesFilter(s, filter)), { bundle: false }),
  ]);
  return {
    start: encodePosition(oldest ? positionBefore(oldest) : positionBefore(ev)),
    end: encodePosition(newest ? positionAfter(newest) : positionAfter(ev)),
    events_before: eventsBefore,
    event: event as JsonObject,
    events_after: eventsAfter,
    state: stateOut,
  };
}
