/**
 * GET /rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]] (relations.yaml): the child
 * events of a visible parent, in topological order (newest first by default), optionally following
 * relations of relations up to three levels (`recurse`). Redacted, rejected and other rooms' children
 * never count. Tokens are room positions, so /messages and /sync tokens work as `from`/`to`.
 */
import type { JsonObject } from '@hs/core';
import { errors } from '@hs/core';
import type { Requester } from '@hs/http';
import { notRedactedSql } from '@hs/rooms';
import type { RoomApi } from './api.ts';
import type { Direction } from './params.ts';
import { decodePositionToken, encodePosition, positionAfter, positionBefore } from './positions.ts';
import { roomReadAccess, visibleEvents } from './room-access.ts';
import { serveEvents } from './serve.ts';

/** How deep `recurse=true` follows relations (the spec asks for at least three). */
export const RELATIONS_RECURSION_DEPTH = 3;

export interface RelationsRequest {
  readonly roomId: string;
  readonly parentId: string;
  readonly relType?: string;
  readonly eventType?: string;
  readonly from?: string;
  readonly to?: string;
  readonly dir: Direction;
  readonly limit: number;
  /** undefined: the client did not ask (no recursion_depth in the answer). */
  readonly recurse?: boolean;
}

export async function getRelations(api: RoomApi, r: Requester, req: RelationsRequest): Promise<JsonObject> {
  const { store, sql } = api;
  await roomReadAccess(store, r.userId, req.roomId);
  const parent = await store.getEvent(req.parentId);
  const ignored = await api.ignoredBy(r.userId);
  const unknown = () => errors.notFound('Unknown parent event.');
  if (!parent || parent.roomId !== req.roomId || parent.outlier || parent.rejectedReason !== undefined) throw unknown();
  if ((await visibleEvents(store, r.userId, [parent], ignored)).length === 0) throw unknown();

  const from = req.from ? await decodePositionToken(sql, req.roomId, req.from, 'from token') : undefined;
  const to = req.to ? await decodePositionToken(sql, req.roomId, req.to, 'to token') : undefined;
  const depth = req.recurse ? RELATIONS_RECURSION_DEPTH : 1;
  const backwards = req.dir === 'b';
  const lo = backwards ? to : from;
  const hi = backwards ? from : to;
  const rows = await sql<{ event_id: string }[]>`
    WITH RECURSIVE children(event_id, relation_type, depth) AS (
      SELECT event_id, relation_type, 1 FROM event_relations WHERE relates_to_id = ${req.parentId}
      UNION
      SELECT r.event_id, r.relation_type, c.depth + 1
      FROM event_relations r JOIN children c ON r.relates_to_id = c.event_id
      WHERE c.depth < ${depth}
    )
    SELECT DISTINCT e.event_id, e.topological_ordering, e.stream_ordering
    FROM children c JOIN events e ON e.event_id = c.event_id
    WHERE e.room_id = ${req.roomId} AND NOT e.outlier AND e.rejected_reason IS NULL
      ${req.relType !== undefined ? sql`AND c.relation_type = ${req.relType}` : sql``}
      ${req.eventType !== undefined ? sql`AND e.type = ${req.eventType}` : sql``}
      ${lo ? sql`AND (e.topological_ordering, e.stream_ordering) > (${lo.topological}, ${lo.stream})` : sql``}
      ${hi ? sql`AND (e.topological_ordering, e.stream_ordering) <= (${hi.topological}, ${hi.stream})` : sql``}
      AND ${notRedactedSql(sql)}
    ORDER BY ${backwards ? sql`e.topological_ordering DESC, e.stream_ordering DESC` : sql`e.topological_ordering ASC, e.stream_ordering ASC`}
    LIMIT ${req.limit + 1}`;
  const page = await store.getEventList(rows.slice(0, req.limit).map((x) => x.event_id));
  const visible = await visibleEvents(store, r.userId, page, ignored);
  const body: JsonObject = { chunk: await serveEvents(api.serving(r, ignored), visible) };
  const last = page.at(-1);
  if (rows.length > req.limit && last) body.next_batch = encodePosition(backwards ? positionBefore(last) : positionAfter(last));
  if (req.from) body.prev_batch = req.from;
  if (req.recurse !== undefined) body.recursion_depth = depth;
  return body;
}
