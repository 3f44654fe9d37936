/**
 * GET /rooms/{roomId}/messages (message_pagination.yaml): a page of the room's timeline in
 * topological order from a `t…` token, a /sync `s…` token, or (no `from`) the end or start of the
 * room. Users who left see nothing past their leave. `end` is left out once nothing further lies
 * in that direction. With `lazy_load_members`, `state` holds the senders' member events.
 */
import type { JsonObject } from '@hs/core';
import type { Requester } from '@hs/http';
import type { RoomApi } from './api.ts';
import type { Direction } from './params.ts';
import type { Position } from './positions.ts';
import { ROOM_START, decodePositionToken, encodePosition, minPosition, positionAfter, positionBefore, roomEndPosition } from './positions.ts';
import type { RoomEventFilter } from './room-event-filter.ts';
import { paginateTimeline } from './timeline.ts';
import { roomReadAccess, visibleEvents } from './room-access.ts';
import { serveEvents } from './serve.ts';
import { lazyMemberState } from './member-state.ts';

export interface MessagesRequest {
  readonly roomId: string;
  readonly from?: string;
  readonly to?: string;
  readonly dir: Direction;
  readonly limit: number;
  readonly filter: RoomEventFilter;
}

export async function getMessages(api: RoomApi, r: Requester, req: MessagesRequest): Promise<JsonObject> {
  const { store, sql } = api;
  const access = await roomReadAccess(store, r.userId, req.roomId);
  let from: Position =
    req.from !== undefined && req.from !== ''
      ? await decodePositionToken(sql, req.roomId, req.from, 'from token')
      : req.dir === 'b'
        ? await roomEndPosition(sql, req.roomId)
        : ROOM_START;
  let to = req.to !== undefined && req.to !== '' ? await decodePositionToken(sql, req.roomId, req.to, 'to token') : undefined;
  if (access.until) {
    // Nothing after the leave: clamp the starting point (backwards) or the bound (forwards).
    if (req.dir === 'b') from = minPosition(from, access.until);
    else to = to ? minPosition(to, access.until) : access.until;
  }
  const start = req.from !== undefined && req.from !== '' ? req.from : encodePosition(from);
  const page = await paginateTimeline(store, req.roomId, from, req.dir, req.limit, req.filter, to);
  const ignored = await api.ignoredBy(r.userId);
  const visible = await visibleEvents(store, r.userId, page.events, ignored);
  const serving = api.serving(r, ignored);
  const body: JsonObject = { chunk: await serveEvents(serving, visible), start };
  if (!page.exhausted) {
    const last = page.events.at(-1);
    body.end = encodePosition(last === undefined ? from : req.dir === 'b' ? positionBefore(last) : positionAfter(last));
  }
  if (req.filter.lazyLoadMembers && visible.length > 0) {
    const first = visible[0]!.event;
    const state = await lazyMemberState(store, first.eventId, visible.map((v) => v.event.sender));
    if (state.length > 0) body.state = await serveEvents(serving, state, { bundle: false });
  }
  return body;
}
