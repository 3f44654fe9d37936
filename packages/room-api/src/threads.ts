/**
 * GET /rooms/{roomId}/threads (threads_list.yaml): thread roots ordered by their latest reply
 * (newest first), from the `threads` table the indexer keeps. `include=participated` keeps threads
 * whose root or any reply the user sent. Roots from ignored users are served redacted, as a client
 * aggregating locally would see them.
 */
import type { JsonObject } from '@hs/core';
import type { Requester } from '@hs/http';
import type { StoredEvent } from '@hs/rooms';
import { filterEventsForUser } from '@hs/rooms';
import type { RoomApi } from './api.ts';
import { decodePositionToken, encodePosition } from './positions.ts';
import { roomReadAccess } from './room-access.ts';
import { serveEvents } from './serve.ts';

export type ThreadsInclude = 'all' | 'participated';

/** Marks a root as pruned for serving (no such redaction exists; see loadEventsForClient). */
const IGNORED_SENDER = '$ignored-sender';

export async function getThreads(
  api: RoomApi,
  r: Requester,
  roomId: string,
  include: ThreadsInclude,
  limit: number,
  fromToken: string | undefined,
): Promise<JsonObject> {
  const { store, sql } = api;
  await roomReadAccess(store, r.userId, roomId);
  await api.indexer.catchUpQuietly();
  const from = fromToken ? await decodePositionToken(sql, roomId, fromToken, 'from token') : undefined;
  const rows = await sql<{ thread_id: string; topological_ordering: number; stream_ordering: number }[]>`
    SELECT t.thread_id, t.topological_ordering, t.stream_ordering FROM threads t
    WHERE t.room_id = ${roomId}
      ${from ? sql`AND (t.topological_ordering, t.stream_ordering) <= (${from.topological}, ${from.stream})` : sql``}
      ${
        include === 'participated'
          ? sql`AND (EXISTS (SELECT 1 FROM events root WHERE root.event_id = t.thread_id AND root.sender = ${r.userId})
                  OR EXISTS (SELECT 1 FROM event_relations x JOIN events e ON e.event_id = x.event_id
                             WHERE x.relates_to_id = t.thread_id AND x.relation_type = 'm.thread'
                               AND e.room_id = t.room_id AND e.sender = ${r.userId}))`
          : sql``
      }
    ORDER BY t.topological_ordering DESC, t.stream_ordering DESC LIMIT ${limit + 1}`;
  const page = rows.slice(0, limit);
  const roots = (await store.getEventList(page.map((t) => t.thread_id))).filter(
    (e) => e.roomId === roomId && !e.outlier && e.rejectedReason === undefined,
  );
  const ignored = await api.ignoredBy(r.userId);
  const visible = (await filterEventsForUser(store, r.userId, roots)).map((v) =>
    ignored.has(v.event.sender) && v.event.redactedBy === undefined ? { ...v, event: { ...v.event, redactedBy: IGNORED_SENDER } as StoredEvent } : v,
  );
  const body: JsonObject = { chunk: await serveEvents(api.serving(r, ignored), visible) };
  const last = page.at(-1);
  if (rows.length > limit && last) {
    body.next_batch = encodePosition({ topological: Number(last.topological_ordering), stream: Math.max(0, Number(last.stream_ordering) - 1) });
  }
  return body;
}
