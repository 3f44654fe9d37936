/**
 * GET /rooms/{roomId}/timestamp_to_event (room_event_by_timestamp.yaml): the room's timeline event
 * closest to `ts` in direction `dir`, by origin_server_ts (index events_room_origin_ts_idx). Like
 * Synapse, only members or anyone for a world_readable room may ask, and the answer is not
 * filtered by history visibility (clients paginate from it with /context).
 */
import type { JsonObject } from '@hs/core';
import { errors } from '@hs/core';
import type { Requester } from '@hs/http';
import type { RoomApi } from './api.ts';
import type { Direction } from './params.ts';
import { roomReadAccess } from './room-access.ts';

export async function timestampToEvent(api: RoomApi, r: Requester, roomId: string, ts: number, dir: Direction): Promise<JsonObject> {
  const { sql } = api;
  await roomReadAccess(api.store, r.userId, roomId, { allowDeparted: false });
  const [row] =
    dir === 'f'
      ? await sql<{ event_id: string; origin_server_ts: number }[]>`
          SELECT event_id, origin_server_ts FROM events
          WHERE room_id = ${roomId} AND origin_server_ts >= ${ts} AND NOT outlier AND rejected_reason IS NULL
          ORDER BY origin_server_ts ASC, stream_ordering ASC LIMIT 1`
      : await sql<{ event_id: string; origin_server_ts: number }[]>`
          SELECT event_id, origin_server_ts FROM events
          WHERE room_id = ${roomId} AND origin_server_ts <= ${ts} AND NOT outlier AND rejected_reason IS NULL
          ORDER BY origin_server_ts DESC, stream_ordering DESC LIMIT 1`;
  if (!row) throw errors.notFound(`Unable to find event from ${ts} in direction ${dir === 'f' ? 'forwards' : 'backwards'}`);
  return { event_id: row.event_id, origin_server_ts: Number(row.origin_server_ts) };
}
