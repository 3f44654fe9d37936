/**
 * Sync filters (client-server-api › Filtering; the filter definitions of filter.yaml), compiled once per
 * request. `not_*` lists win over their positive lists; a positive list that is present but empty matches
 * nothing; `*` in a type matches any run of characters. Absent filters match everything. Timeline limits
 * default to 10 and are capped by the server's `filter_timeline_limit`, as Synapse does.
 */
import type { JsonObject, JsonValue } from '@hs/core';
import { isJsonObject } from '@hs/core';

export interface EventFilter {
  readonly limit: number | undefined;
  readonly types: readonly string[] | undefined;
  readonly notTypes: readonly string[];
  readonly senders: readonly string[] | undefined;
  readonly notSenders: readonly string[];
}

export interface RoomEventFilter extends EventFilter {
  readonly rooms: readonly string[] | undefined;
  readonly notRooms: readonly string[];
  readonly containsUrl: boolean | undefined;
  readonly lazyLoadMembers: boolean;
  readonly includeRedundantMembers: boolean;
  readonly unreadThreadNotifications: boolean;
}

export interface RoomsFilter {
  readonly rooms: readonly string[] | undefined;
  readonly notRooms: readonly string[];
  readonly includeLeave: boolean;
  readonly timeline: RoomEventFilter;
  readonly state: RoomEventFilter;
  readonly ephemeral: RoomEventFilter;
  readonly accountData: RoomEventFilter;
}

export interface SyncFilter {
  readonly eventFields: readonly string[] | undefined;
  readonly eventFormat: 'client' | 'federation';
  readonly presence: EventFilter;
  readonly accountData: EventFilter;
  readonly room: RoomsFilter;
  /** The timeline limit after defaults and the server cap. */
  readonly timelineLimit: number;
}

export const DEFAULT_TIMELINE_LIMIT = 10;
export const DEFAULT_FILTER_TIMELINE_LIMIT = 100;

function strings(v: JsonValue | undefined): string[] | undefined {
  if (!Array.isArray(v)) return undefined;
  return v.filter((x): x is string => typeof x === 'string');
}

function positiveInt(v: JsonValue | undefined): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
}

function obj(v: JsonValue | undefined): JsonObject {
  return isJsonObject(v) ? v : {};
}

function eventFilter(j: JsonObject): EventFilter {
  return {
    limit: positiveInt(j.limit),
    types: strings(j.types),
    notTypes: strings(j.not_types) ?? [],
    senders: strings(j.senders),
    notSenders: strings(j.not_senders) ?? [],
  };
}

function roomEventFilter(j: JsonObject): RoomEventFilter {
  return {
    ...eventFilter(j),
    rooms: strings(j.rooms),
    notRooms: strings(j.not_rooms) ?? [],
    containsUrl: typeof j.contains_url === 'boolean' ? j.contains_url : undefined,
    lazyLoadMembers: j.lazy_load_members === true,
    includeRedundantMembers: j.include_redundant_members === true,
    unreadThreadNotifications: j.unread_thread_notifications === true,
  };
}

/** Compile a (validated) filter. `timelineCap` is `filter_timeline_limit` (-1: no cap). */
export function compileFilter(json: JsonObject, timelineCap = DEFAULT_FILTER_TIMELINE_LIMIT): SyncFilter {
  const room = obj(json.room);
  const timeline = roomEventFilter(obj(room.timeline));
  let timelineLimit = timeline.limit ?? DEFAULT_TIMELINE_LIMIT;
  if (timelineCap >= 0 && timelineLimit > timelineCap) timelineLimit = timelineCap;
  return {
    eventFields: strings(json.event_fields),
    eventFormat: json.event_format === 'federation' ? 'federation' : 'client',
    presence: eventFilter(obj(json.presence)),
    accountData: eventFilter(obj(json.account_data)),
    room: {
      rooms: strings(room.rooms),
      notRooms: strings(room.not_rooms) ?? [],
      includeLeave: room.include_leave === true,
      timeline,
      state: roomEventFilter(obj(room.state)),
      ephemeral: roomEventFilter(obj(room.ephemeral)),
      accountData: roomEventFilter(obj(room.account_data)),
    },
    timelineLimit,
  };
}

const globCache = new Map<string, RegExp>();

/** Whether an event type matches a filter pattern (`*` = any run of characters). */
export function typeMatches(pattern: string, type: string): boolean {
  if (!pattern.includes('*')) return pattern === type;
  let re = globCache.get(pattern);
  if (!re) {
    re = new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$', 's');
    if (globCache.size > 1000) globCache.clear();
    globCache.set(pattern, re);
  }
  return re.test(type);
}

/** The same pattern as a SQL LIKE pattern (backslash escapes). */
export function globToLike(pattern: string): string {
  return pattern.replace(/[\\%_]/g, '\\$&').replace(/\*/g, '%');
}

export function allowsRoom(f: { readonly rooms: readonly string[] | undefined; readonly notRooms: readonly string[] }, roomId: string): boolean {
  if (f.notRooms.includes(roomId)) return false;
  return f.rooms === undefined || f.rooms.includes(roomId);
}

export interface FilterableEvent {
  readonly type: string;
  readonly sender?: string | undefined;
  readonly containsUrl?: boolean;
}

export function allowsEvent(f: EventFilter | RoomEventFilter, ev: FilterableEvent): boolean {
  if (f.notTypes.some((p) => typeMatches(p, ev.type))) return false;
  if (f.types !== undefined && !f.types.some((p) => typeMatches(p, ev.type))) return false;
  if (ev.sender !== undefined && f.notSenders.includes(ev.sender)) return false;
  if (f.senders !== undefined && (ev.sender === undefined || !f.senders.includes(ev.sender))) return false;
  if ('containsUrl' in f && f.containsUrl !== undefined && (ev.containsUrl ?? false) !== f.containsUrl) return false;
  return true;
}

/** Filter, then cut to the filter's limit (keeping the first ones). */
export function applyEventFilter<T>(f: EventFilter, events: readonly T[], view: (e: T) => FilterableEvent): T[] {
  const kept = events.filter((e) => allowsEvent(f, view(e)));
  return f.limit !== undefined && kept.length > f.limit ? kept.slice(0, f.limit) : kept;
}

/** Whether the filter lets no event of any type through (nothing to read at all). */
export function blocksAll(f: EventFilter): boolean {
  return (f.types !== undefined && f.types.length === 0) || f.notTypes.includes('*');
}

/** Does `content.url` hold a string (the `contains_url` test)? */
export function contentHasUrl(content: JsonValue | undefined): boolean {
  return isJsonObject(content) && typeof content.url === 'string';
}

/**
 * `event_fields`: keep only these dot-separated paths (`\.` escapes a dot in a key), as Synapse's
 * `only_fields`. An empty list keeps everything.
 */
export function projectFields(event: JsonObject, fields: readonly string[] | undefined): JsonObject {
  if (!fields || fields.length === 0) return event;
  const out: JsonObject = {};
  for (const field of fields) {
    const path = field.split(/(?<!\\)\./).map((p) => p.replace(/\\\./g, '.'));
    copyPath(event, out, path);
  }
  return out;
}

function copyPath(src: JsonObject, dst: JsonObject, path: readonly string[]): void {
  const [head, ...rest] = path;
  if (head === undefined || !Object.hasOwn(src, head)) return;
  const value = src[head] as JsonValue;
  if (rest.length === 0) {
    dst[head] = value;
    return;
  }
  if (!isJsonObject(value)) return;
  const existing = dst[head];
  const next: JsonObject = isJsonObject(existing) ? existing : {};
  copyPath(value, next, rest);
  if (Object.keys(next).length > 0 || isJsonObject(existing)) dst[head] = next;
}
