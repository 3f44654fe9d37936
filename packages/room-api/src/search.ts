/**
 * POST /search (search.yaml), room_events category: Postgres full-text search (`event_search`,
 * english configuration, `websearch_to_tsquery` syntax) over the rooms the user is joined to, ordered
 * by rank (ts_rank_cd) or by recency, paginated with `next_batch`, each result checked against
 * history visibility. Optional event context (with historic profiles), current state of the rooms
 * found, and grouping by room or sender. A group's `next_batch` continues that group only.
 */
import type { JsonObject, JsonValue } from '@hs/core';
import { errors, isJsonObject } from '@hs/core';
import type { Requester } from '@hs/http';
import type { StoredEvent, VisibleEvent } from '@hs/rooms';
import { notRedactedSql } from '@hs/rooms';
import type { RoomApi } from './api.ts';
import { encodePosition, positionAfter, positionBefore } from './positions.ts';
import type { RoomEventFilter } from './room-event-filter.ts';
import { NO_FILTER, filterSql, roomEventFilterFrom } from './room-event-filter.ts';
import { paginateTimeline } from './timeline.ts';
import { visibleEvents } from './room-access.ts';
import { serveEvents } from './serve.ts';
import { lazyMemberState } from './member-state.ts';
import type { SearchKey } from './searchable.ts';
import { SEARCH_KEYS } from './searchable.ts';

export type SearchOrder = 'rank' | 'recent';
type GroupKey = 'room_id' | 'sender';

/** Where a search continues: an offset (rank) or the last (ts, stream) seen (recent), maybe within one group. */
interface SearchCursor {
  readonly order: SearchOrder;
  readonly offset?: number;
  readonly ts?: number;
  readonly stream?: number;
  readonly group?: readonly [GroupKey, string];
}

const DEFAULT_LIMIT = 10;
const MAX_LIMIT = 100;
/** Fetch rounds per request when history visibility hides results (as Synapse bounds its loop). */
const MAX_ROUNDS = 5;
const MAX_TERM_LENGTH = 10_000;

function encodeCursor(c: SearchCursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function decodeCursor(token: string): SearchCursor {
  let c: unknown;
  try {
    c = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw errors.invalidParam('Invalid next_batch token');
  }
  const ok =
    isJsonObject(c) &&
    (c.order === 'rank' ? Number.isSafeInteger(c.offset) && (c.offset as number) >= 0 : c.order === 'recent' && Number.isSafeInteger(c.ts) && Number.isSafeInteger(c.stream)) &&
    (c.group === undefined || (Array.isArray(c.group) && c.group.length === 2 && (c.group[0] === 'room_id' || c.group[0] === 'sender') && typeof c.group[1] === 'string'));
  if (!ok) throw errors.invalidParam('Invalid next_batch token');
  return c as unknown as SearchCursor;
}

interface Criteria {
  readonly term: string;
  readonly keys: readonly SearchKey[];
  readonly filter: RoomEventFilter;
  readonly order: SearchOrder;
  readonly context?: { before: number; after: number; profile: boolean };
  readonly includeState: boolean;
  readonly groupBy: readonly GroupKey[];
}

function criteriaOf(body: JsonObject): Criteria | undefined {
  const cats = body.search_categories;
  const c = isJsonObject(cats) && isJsonObject(cats.room_events) ? cats.room_events : undefined;
  if (!c) return undefined;
  const ctx = isJsonObject(c.event_context) ? c.event_context : undefined;
  const limitOf = (v: JsonValue | undefined, name: string) => {
    if (v === undefined) return 5;
    if (typeof v !== 'number' || v < 0) throw errors.invalidParam(`${name} must be a non-negative integer`);
    return Math.min(v, 100);
  };
  const groups = isJsonObject(c.groupings) && Array.isArray(c.groupings.group_by) ? c.groupings.group_by : [];
  return {
    term: c.search_term as string,
    keys: Array.isArray(c.keys) && c.keys.length > 0 ? (c.keys as SearchKey[]) : SEARCH_KEYS,
    filter: isJsonObject(c.filter) ? roomEventFilterFrom(c.filter) : NO_FILTER,
    order: c.order_by === 'recent' ? 'recent' : 'rank',
    ...(ctx
      ? { context: { before: limitOf(ctx.before_limit, 'before_limit'), after: limitOf(ctx.after_limit, 'after_limit'), profile: ctx.include_profile === true } }
      : {}),
    includeState: c.include_state === true,
    groupBy: [...new Set(groups.flatMap((g): GroupKey[] => (isJsonObject(g) && (g.key === 'room_id' || g.key === 'sender') ? [g.key] : [])))],
  };
}

interface Hit {
  event_id: string;
  rank: number;
  origin_server_ts: number;
  stream_ordering: number;
}

export async function searchRoomEvents(api: RoomApi, r: Requester, body: JsonObject, nextBatch: string | undefined): Promise<JsonObject> {
  const crit = criteriaOf(body);
  if (!crit) return { search_categories: {} };
  // Postgres parses the query recursively: tens of thousands of words exhaust its stack.
  if (crit.term.length > MAX_TERM_LENGTH) throw errors.invalidParam(`search_term is longer than ${MAX_TERM_LENGTH} characters`);
  const cursor = nextBatch ? decodeCursor(nextBatch) : undefined;
  if (cursor && cursor.order !== crit.order) throw errors.invalidParam('next_batch was issued for a different order_by');
  const limit = crit.filter.limit === undefined ? DEFAULT_LIMIT : crit.filter.limit;
  if (limit < 1) throw errors.invalidParam('filter.limit must be at least 1');
  const pageSize = Math.min(limit, MAX_LIMIT);
  const { sql, store } = api;

  let rooms = (await store.getJoinedRooms(r.userId)).filter(
    (room) => (crit.filter.rooms === undefined || crit.filter.rooms.includes(room)) && !(crit.filter.notRooms ?? []).includes(room),
  );
  let senders: string[] | undefined;
  if (cursor?.group?.[0] === 'room_id') rooms = rooms.filter((room) => room === cursor.group?.[1]);
  if (cursor?.group?.[0] === 'sender') senders = [cursor.group[1]];
  await api.indexer.catchUpQuietly();

  const query = sql`websearch_to_tsquery('english', ${crit.term})`;
  const where = sql`
    s.room_id = ANY(${rooms}::text[]) AND s.key = ANY(${crit.keys as string[]}::text[]) AND s.vector @@ ${query}
    ${senders ? sql`AND s.sender = ANY(${senders}::text[])` : sql``}
    ${filterSql(sql, crit.filter)}
    AND ${notRedactedSql(sql)}`;
  const fetch = (after: SearchCursor | undefined, n: number) =>
    crit.order === 'rank'
      ? sql<Hit[]>`
          SELECT s.event_id, ts_rank_cd(s.vector, ${query}) AS rank, s.origin_server_ts, s.stream_ordering
          FROM event_search s JOIN events e ON e.event_id = s.event_id
          WHERE ${where}
          ORDER BY rank DESC, s.stream_ordering DESC, s.event_id LIMIT ${n} OFFSET ${after?.offset ?? 0}`
      : sql<Hit[]>`
          SELECT s.event_id, ts_rank_cd(s.vector, ${query}) AS rank, s.origin_server_ts, s.stream_ordering
          FROM event_search s JOIN events e ON e.event_id = s.event_id
          WHERE ${where}
            ${after ? sql`AND (s.origin_server_ts, s.stream_ordering) < (${after.ts as number}, ${after.stream as number})` : sql``}
          ORDER BY s.origin_server_ts DESC, s.stream_ordering DESC LIMIT ${n}`;

  const ignored = await api.ignoredBy(r.userId);
  const [countRow] = rooms.length === 0 ? [{ n: 0 }] : await sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM event_search s JOIN events e ON e.event_id = s.event_id WHERE ${where}`;

  const found: Array<{ visible: VisibleEvent; rank: number }> = [];
  let at: SearchCursor | undefined = cursor;
  let more = rooms.length > 0;
  for (let round = 0; round < MAX_ROUNDS && more && found.length < pageSize; round++) {
    const want = pageSize - found.length;
    const rows = await fetch(at, want + 1);
    more = rows.length > want;
    const used = rows.slice(0, want);
    const events = await store.getEventList(used.map((h) => h.event_id));
    const ranks = new Map(used.map((h) => [h.event_id, Number(h.rank)]));
    for (const v of await visibleEvents(store, r.userId, events, ignored)) found.push({ visible: v, rank: ranks.get(v.event.eventId) ?? 0 });
    const last = used.at(-1);
    if (last) {
      at =
        crit.order === 'rank'
          ? { order: 'rank', offset: (at?.offset ?? 0) + used.length }
          : { order: 'recent', ts: Number(last.origin_server_ts), stream: Number(last.stream_ordering) };
    }
  }
  const serving = api.serving(r, ignored);
  const served = await serveEvents(serving, found.map((f) => f.visible));
  const results: JsonObject[] = await Promise.all(
    found.map(async (f, i) => {
      const entry: JsonObject = { rank: f.rank, result: served[i] as JsonObject };
      if (crit.context) entry.context = await resultContext(api, r, f.visible.event, crit, ignored);
      return entry;
    }),
  );

  const out: JsonObject = {
    count: Number(countRow?.n ?? 0),
    results,
    highlights: await highlights(api, crit.term, found.map((f) => f.visible.event.eventId)),
  };
  const withGroup = (group?: readonly [GroupKey, string]) => encodeCursor({ ...(at as SearchCursor), ...(group ? { group } : cursor?.group ? { group: cursor.group } : {}) });
  if (more && at) out.next_batch = withGroup();
  if (crit.groupBy.length > 0) {
    const groups: JsonObject = {};
    for (const key of crit.groupBy) {
      const byValue: Record<string, { results: string[]; order: number }> = {};
      for (const f of found) {
        const value = key === 'room_id' ? f.visible.event.roomId : f.visible.event.sender;
        (byValue[value] ??= { results: [], order: Object.keys(byValue).length + 1 }).results.push(f.visible.event.eventId);
      }
      const entries: JsonObject = {};
      for (const [value, g] of Object.entries(byValue)) {
        entries[value] = { results: g.results, order: g.order, ...(more && at ? { next_batch: withGroup([key, value]) } : {}) };
      }
      groups[key] = entries;
    }
    out.groups = groups;
  }
  if (crit.includeState) {
    const state: JsonObject = {};
    const roomsFound = [...new Set(found.map((f) => f.visible.event.roomId))];
    await Promise.all(
      roomsFound.map(async (room) => {
        state[room] = await serveEvents(serving, await store.getCurrentStateEvents(room), { bundle: false });
      }),
    );
    out.state = state;
  }
  return { search_categories: { room_events: out } };
}

/** Events around a result (unfiltered, as Synapse), tokens, and optionally the senders' profiles then. */
async function resultContext(api: RoomApi, r: Requester, ev: StoredEvent, crit: Criteria, ignored: ReadonlySet<string>): Promise<JsonObject> {
  const { store } = api;
  const c = crit.context as { before: number; after: number; profile: boolean };
  const [before, after] = await Promise.all([
    paginateTimeline(store, ev.roomId, positionBefore(ev), 'b', c.before, NO_FILTER),
    paginateTimeline(store, ev.roomId, positionAfter(ev), 'f', c.after, NO_FILTER),
  ]);
  const [visBefore, visAfter] = await Promise.all([
    visibleEvents(store, r.userId, before.events, ignored),
    visibleEvents(store, r.userId, after.events, ignored),
  ]);
  const serving = api.serving(r, ignored);
  const out: JsonObject = {
    start: encodePosition(before.events.length > 0 ? positionBefore(before.events.at(-1) as StoredEvent) : positionBefore(ev)),
    end: encodePosition(after.events.length > 0 ? positionAfter(after.events.at(-1) as StoredEvent) : positionAfter(ev)),
    events_before: await serveEvents(serving, visBefore),
    events_after: await serveEvents(serving, visAfter),
  };
  if (c.profile) {
    const last = visAfter.at(-1)?.event ?? ev;
    const senders = [ev, ...visBefore.map((v) => v.event), ...visAfter.map((v) => v.event)].map((e) => e.sender);
    const profiles: JsonObject = {};
    for (const m of await lazyMemberState(store, last.eventId, senders)) {
      const content = m.redactedBy === undefined && isJsonObject(m.pdu.content) ? m.pdu.content : {};
      const p: JsonObject = {};
      if (typeof content.displayname === 'string') p.displayname = content.displayname;
      if (typeof content.avatar_url === 'string') p.avatar_url = content.avatar_url;
      if (m.stateKey !== undefined) profiles[m.stateKey] = p;
    }
    out.profile_info = profiles;
  }
  return out;
}

/** The words of the results that matched (stemming can make them differ from the query). */
async function highlights(api: RoomApi, term: string, eventIds: readonly string[]): Promise<string[]> {
  if (eventIds.length === 0) return [];
  const rows = await api.sql<{ h: string | null }[]>`
    SELECT ts_headline('english', e.json::jsonb #>> ARRAY['content', split_part(s.key, '.', 2)],
                       websearch_to_tsquery('english', ${term}), 'StartSel=[[[, StopSel=]]], HighlightAll=true') AS h
    FROM event_search s JOIN events e ON e.event_id = s.event_id
    WHERE s.event_id = ANY(${eventIds as string[]}::text[])`;
  const words = new Set<string>();
  for (const row of rows) for (const m of (row.h ?? '').matchAll(/\[\[\[(.*?)\]\]\]/gs)) if (m[1]) words.add(m[1]);
  return [...words];
}
