/**
 * Positions in a room's topological order and their tokens. A position names the gap just AFTER the
 * event (depth, stream): paging backwards from it returns that event first, forwards from it the next
 * one, exactly as Synapse's `t{depth}-{stream}` tokens work. /sync hands out stream tokens (`s…`);
 * those become the position after the room's last timeline event at or below that stream position.
 */
import { TokenError, decodeRoomToken, decodeSyncToken, encodeRoomToken, errors, maxPosition } from '@hs/core';
import type { StoredEvent } from '@hs/rooms';
import type { Sql } from '@hs/storage';

export interface Position {
  readonly topological: number;
  readonly stream: number;
}

export const ROOM_START: Position = { topological: 0, stream: 0 };

export function encodePosition(p: Position): string {
  return encodeRoomToken({ topological: p.topological, stream: { min: p.stream, ahead: new Map() } });
}

export function positionAfter(ev: Pick<StoredEvent, 'topologicalOrdering' | 'streamOrdering'>): Position {
  return { topological: ev.topologicalOrdering, stream: ev.streamOrdering };
}

export function positionBefore(ev: Pick<StoredEvent, 'topologicalOrdering' | 'streamOrdering'>): Position {
  return { topological: ev.topologicalOrdering, stream: Math.max(0, ev.streamOrdering - 1) };
}

export function comparePositions(a: Position, b: Position): number {
  return a.topological - b.topological || a.stream - b.stream;
}

export function minPosition(a: Position, b: Position): Position {
  return comparePositions(a, b) <= 0 ? a : b;
}

/** The position after the room's last timeline event with stream ordering ≤ `stream` (or the start). */
export async function positionAtStream(sql: Sql, roomId: string, stream: number): Promise<Position> {
  const [row] = await sql<{ topological_ordering: number; stream_ordering: number }[]>`
    SELECT topological_ordering, stream_ordering FROM events
    WHERE room_id = ${roomId} AND stream_ordering <= ${stream} AND NOT outlier AND rejected_reason IS NULL
    ORDER BY stream_ordering DESC LIMIT 1`;
  return row ? { topological: Number(row.topological_ordering), stream: Number(row.stream_ordering) } : ROOM_START;
}

/** The position after the room's topologically last timeline event. */
export async function roomEndPosition(sql: Sql, roomId: string): Promise<Position> {
  const [row] = await sql<{ topological_ordering: number; stream_ordering: number }[]>`
    SELECT topological_ordering, stream_ordering FROM events
    WHERE room_id = ${roomId} AND NOT outlier AND rejected_reason IS NULL
    ORDER BY topological_ordering DESC, stream_ordering DESC LIMIT 1`;
  return row ? { topological: Number(row.topological_ordering), stream: Number(row.stream_ordering) } : ROOM_START;
}

/** A `t…` room token or an `s…` sync/stream token, as a position in `roomId`; 400 if malformed. */
export async function decodePositionToken(sql: Sql, roomId: string, token: string, what = 'pagination token'): Promise<Position> {
  try {
    if (token.startsWith('t')) {
      const t = decodeRoomToken(token);
      return { topological: t.topological ?? 0, stream: maxPosition(t.stream) };
    }
    if (token.startsWith('s')) return await positionAtStream(sql, roomId, maxPosition(decodeSyncToken(token).events));
  } catch (e) {
    if (e instanceof TokenError) throw errors.invalidParam(`Invalid ${what}: ${e.message}`);
    throw e;
  }
  throw errors.invalidParam(`Invalid ${what}`);
}
