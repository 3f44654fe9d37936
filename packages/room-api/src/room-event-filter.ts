/**
 * RoomEventFilter (client-server-api › Filtering) for /messages, /context and /search: parsed from
 * JSON and checked against `schemas/client/room-event-filter.schema.json`, turned into SQL so that
 * pages come back full, and matched in memory where the events are already loaded (state lists).
 */
import type { JsonObject } from '@hs/core';
import { MatrixError, errors, isJsonObject } from '@hs/core';
import { BodySchemas } from '@hs/http';
import type { Sql } from '@hs/storage';
import type { StoredEvent } from '@hs/rooms';

export interface RoomEventFilter {
  readonly types?: readonly string[];
  readonly notTypes?: readonly string[];
  readonly senders?: readonly string[];
  readonly notSenders?: readonly string[];
  readonly rooms?: readonly string[];
  readonly notRooms?: readonly string[];
  readonly containsUrl?: boolean;
  readonly lazyLoadMembers: boolean;
  readonly limit?: number;
}

export const NO_FILTER: RoomEventFilter = { lazyLoadMembers: false };

let schemas: BodySchemas | undefined;

const strings = (v: unknown): readonly string[] | undefined => (Array.isArray(v) ? (v as string[]) : undefined);

/** A filter object already known to be JSON (e.g. inside a validated /search body). */
export function roomEventFilterFrom(json: JsonObject): RoomEventFilter {
  schemas ??= new BodySchemas();
  try {
    schemas.check('client/room-event-filter', json);
  } catch (e) {
    if (e instanceof MatrixError) throw errors.invalidParam(`Invalid filter: ${e.message}`);
    throw e;
  }
  const out: { -readonly [K in keyof RoomEventFilter]: RoomEventFilter[K] } = { lazyLoadMembers: json.lazy_load_members === true };
  if (strings(json.types)) out.types = strings(json.types);
  if (strings(json.not_types)) out.notTypes = strings(json.not_types);
  if (strings(json.senders)) out.senders = strings(json.senders);
  if (strings(json.not_senders)) out.notSenders = strings(json.not_senders);
  if (strings(json.rooms)) out.rooms = strings(json.rooms);
  if (strings(json.not_rooms)) out.notRooms = strings(json.not_rooms);
  if (typeof json.contains_url === 'boolean') out.containsUrl = json.contains_url;
  if (typeof json.limit === 'number') out.limit = json.limit;
  return out;
}

/** The `filter` query parameter: inline JSON (400 M_NOT_JSON if unparseable, M_INVALID_PARAM if invalid). */
export function parseRoomEventFilter(text: string | undefined): RoomEventFilter {
  if (text === undefined || text === '') return NO_FILTER;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw errors.notJson('The filter parameter is not valid JSON');
  }
  if (!isJsonObject(parsed)) throw errors.invalidParam('The filter must be a JSON object');
  return roomEventFilterFrom(parsed);
}

/** `*` matches any run of characters; everything else literally. */
function globToLike(pattern: string): string {
  return pattern.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*/g, '%');
}

function globToRegex(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, 's');
}

function typeClause(sql: Sql, patterns: readonly string[]) {
  const exact = patterns.filter((p) => !p.includes('*'));
  const likes = patterns.filter((p) => p.includes('*')).map(globToLike);
  return sql`(e.type = ANY(${exact}::text[]) OR e.type LIKE ANY(${likes}::text[]))`;
}

/**
 * The filter as SQL conditions on an `events` row aliased `e` (each starts with AND; empty when the
 * filter has nothing to say).
 */
export function filterSql(sql: Sql, f: RoomEventFilter) {
  const parts = [];
  if (f.types) parts.push(sql`AND ${typeClause(sql, f.types)}`);
  if (f.notTypes && f.notTypes.length > 0) parts.push(sql`AND NOT ${typeClause(sql, f.notTypes)}`);
  if (f.senders) parts.push(sql`AND e.sender = ANY(${f.senders as string[]}::text[])`);
  if (f.notSenders && f.notSenders.length > 0) parts.push(sql`AND e.sender <> ALL(${f.notSenders as string[]}::text[])`);
  if (f.rooms) parts.push(sql`AND e.room_id = ANY(${f.rooms as string[]}::text[])`);
  if (f.notRooms && f.notRooms.length > 0) parts.push(sql`AND e.room_id <> ALL(${f.notRooms as string[]}::text[])`);
  if (f.containsUrl !== undefined) parts.push(sql`AND e.contains_url = ${f.containsUrl}`);
  return parts.reduce((acc, p) => sql`${acc} ${p}`, sql``);
}

/** Whether a loaded event passes the filter (for state lists the SQL did not select). */
export function matchesFilter(ev: StoredEvent, f: RoomEventFilter): boolean {
  const anyType = (patterns: readonly string[]) => patterns.some((p) => globToRegex(p).test(ev.type));
  if (f.types && !anyType(f.types)) return false;
  if (f.notTypes && anyType(f.notTypes)) return false;
  if (f.senders && !f.senders.includes(ev.sender)) return false;
  if (f.notSenders?.includes(ev.sender)) return false;
  if (f.rooms && !f.rooms.includes(ev.roomId)) return false;
  if (f.notRooms?.includes(ev.roomId)) return false;
  if (f.containsUrl !== undefined) {
    const url = isJsonObject(ev.pdu.content) ? ev.pdu.content.url : undefined;
    if ((typeof url === 'string') !== f.containsUrl) return false;
  }
  return true;
}

/** Whether the filter rules out the room entirely. */
export function excludesRoom(f: RoomEventFilter, roomId: string): boolean {
  return (f.rooms !== undefined && !f.rooms.includes(roomId)) || (f.notRooms?.includes(roomId) ?? false);
}
