/**
 * A page of a room's timeline in topological order, with a RoomEventFilter applied in SQL so pages
 * come back full. One round trip: the page's rows come back whole, in the shape @hs/rooms reads
 * (with the redaction that applies). Uses `events_room_topo_idx` (room_id, topological_ordering,
 * stream_ordering).
 */
import type { EventRow, EventStore, StoredEvent } from '@hs/rooms';
import { eventRowColumns, rowToStoredEvent } from '@hs/rooms';
import type { Direction } from './params.ts';
import type { Position } from './positions.ts';
import type { RoomEventFilter } from './room-event-filter.ts';
import { filterSql } from './room-event-filter.ts';

export interface TimelinePage {
  /** In the direction of travel. */
  readonly events: StoredEvent[];
  /** True when nothing further lies in that direction (within `to`). */
  readonly exhausted: boolean;
}

/**
 * Backwards: events at or before `from`, newest first, after `to` if given. Forwards: events
 * after `from`, oldest first, up to and including `to` if given.
 */
export async function paginateTimeline(
  store: EventStore,
  roomId: string,
  from: Position,
  dir: Direction,
  limit: number,
  filter: RoomEventFilter,
  to?: Position,
): Promise<TimelinePage> {
  const sql = store.sql;
  const backwards = dir === 'b';
  const rows = await sql<EventRow[]>`
    SELECT ${eventRowColumns(sql)}
    FROM events e LEFT JOIN rooms r ON r.room_id = e.room_id
    WHERE e.room_id = ${roomId} AND NOT e.outlier AND e.rejected_reason IS NULL
      ${
        backwards
          ? sql`AND (e.topological_ordering, e.stream_ordering) <= (${from.topological}, ${from.stream})`
          : sql`AND (e.topological_ordering, e.stream_ordering) > (${from.topological}, ${from.stream})`
      }
      ${
        to === undefined
          ? sql``
          : backwards
            ? sql`AND (e.topological_ordering, e.stream_ordering) > (${to.topological}, ${to.stream})`
            : sql`AND (e.topological_ordering, e.stream_ordering) <= (${to.topological}, ${to.stream})`
      }
      ${filterSql(sql, filter)}
    ORDER BY ${backwards ? sql`e.topological_ordering DESC, e.stream_ordering DESC` : sql`e.topological_ordering ASC, e.stream_ordering ASC`}
    LIMIT ${limit + 1}`;
  return { events: rows.slice(0, limit).map(rowToStoredEvent), exhausted: rows.length <= limit };
}
