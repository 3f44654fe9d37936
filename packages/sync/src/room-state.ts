/**
 * The `state` (or `state_after`) of each room in a sync, for all rooms in three queries, from the
 * current state and the current-state delta stream (every change with the position that made it, and
 * what it replaced). State at any position is the current state with the later changes undone, so
 * no per-room state group walk is needed:
 *
 * - sent in full (initial sync, newly joined, `full_state`): the state at the start of the timeline;
 *   keys the timeline does not touch take their value at the end (changes whose events the filter
 *   kept out of the timeline still reach the client). With `use_state_after`, the state at the end.
 * - a delta (incremental): per key changed since `since`, the value at the start of the timeline (or the
 *   end, as above) when it differs from the value at `since` — empty unless the timeline is limited or
 *   filtered. With `use_state_after`, the keys whose value at the end differs from `since`.
 *
 * Lazy-loading keeps only the member events the client needs (timeline senders, itself when the room
 * is sent in full, the heroes), skips those it already has (tracked per device), and always keeps
 * membership changes inside a limited sync's gap, as the spec requires.
 */
import { splitStateKey, stateKey } from '@hs/events';
import type { CurrentStateDelta, StoredEvent } from '@hs/rooms';
import type { Sql } from '@hs/storage';
import type { RoomEventFilter } from './filter.ts';
import { globToLike, typeMatches } from './filter.ts';
import type { ResolvedPosition } from './positions.ts';
import { within } from './positions.ts';

export interface StateRoomRequest {
  readonly roomId: string;
  /** Full state rather than a delta since the request's `since`. */
  readonly full: boolean;
  /** The user's leave event (left rooms): the end of the room's window. */
  readonly cap?: number;
  /** The returned timeline, oldest first. */
  readonly timeline: readonly StoredEvent[];
  readonly limited: boolean;
  /** Lazy-loading: the member state keys the client needs; undefined sends every member. */
  readonly members?: ReadonlySet<string>;
}

export interface StateContext {
  readonly sql: Sql;
  readonly since: ResolvedPosition | undefined;
  readonly token: ResolvedPosition;
  readonly useStateAfter: boolean;
  /** The state filter: its types are applied here, the rest on the loaded events. */
  readonly filter: RoomEventFilter;
  /** Lazy-loading redundancy: whether the client already has this member event. */
  readonly alreadySent?: (roomId: string, userId: string, eventId: string) => boolean;
  /**
   * Rooms whose state changes in (since, token] are known already (the timeline cache): their delta
   * requests without lazy-loading need no query.
   */
  readonly knownDeltas?: ReadonlyMap<string, readonly CurrentStateDelta[]>;
}

interface Delta {
  readonly stream: number;
  readonly instance: string;
  readonly key: string;
  readonly eventId: string | undefined;
  readonly prevEventId: string | undefined;
}

const MEMBER = 'm.room.member';

function keyAllowed(f: RoomEventFilter, type: string): boolean {
  if (f.notTypes.some((p) => typeMatches(p, type))) return false;
  return f.types === undefined || f.types.some((p) => typeMatches(p, type));
}

/** Event IDs of each room's state section (order: by key). */
export async function computeRoomStates(ctx: StateContext, requests: readonly StateRoomRequest[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (requests.length === 0) return out;
  const { sql, token } = ctx;
  const full = requests.filter((r) => r.full || ctx.since === undefined);
  const delta = requests.filter((r) => !(r.full || ctx.since === undefined));

  // Lower bound of the deltas each room needs: the start of its timeline (or its end) for full rooms —
  // and never above the token's minimum, to undo changes of writers the token does not include yet.
  const deltasByRoom = new Map<string, Delta[]>();
  const known = (r: StateRoomRequest) => (!r.full && ctx.since !== undefined && r.members === undefined ? ctx.knownDeltas?.get(r.roomId) : undefined);
  const unknown: StateRoomRequest[] = [];
  for (const r of requests) {
    const list = known(r);
    if (!list) unknown.push(r);
    // Plain positions only (the cache serves no others), so the writer does not matter.
    else if (list.length > 0) deltasByRoom.set(r.roomId, list.map((d) => ({ stream: d.streamId, instance: '', key: stateKey(d.type, d.stateKey), eventId: d.eventId, prevEventId: d.prevEventId })));
  }
  const lo = unknown.map((r) => {
    if (!(r.full || ctx.since === undefined)) return (ctx.since as ResolvedPosition).min;
    const first = r.timeline[0]?.streamOrdering;
    return Math.min(first !== undefined ? first - 1 : Infinity, r.cap ?? Infinity, token.min);
  });
  const deltaRows =
    unknown.length === 0
      ? []
      : await sql<{ room_id: string; stream_id: number; instance_name: string; type: string; state_key: string; event_id: string | null; prev_event_id: string | null }[]>`
    SELECT d.room_id, d.stream_id, d.instance_name, d.type, d.state_key, d.event_id, d.prev_event_id
    FROM unnest(${unknown.map((r) => r.roomId)}::text[], ${lo}::bigint[]) AS r(room_id, lo)
    JOIN current_state_delta_stream d ON d.room_id = r.room_id AND d.stream_id > r.lo
    ORDER BY d.stream_id`;
  for (const d of deltaRows) {
    const list = deltasByRoom.get(d.room_id) ?? [];
    if (list.length === 0) deltasByRoom.set(d.room_id, list);
    list.push({ stream: Number(d.stream_id), instance: d.instance_name, key: stateKey(d.type, d.state_key), eventId: d.event_id ?? undefined, prevEventId: d.prev_event_id ?? undefined });
  }

  const [current, currentMembers] = await Promise.all([loadCurrentState(ctx, full), loadDeltaMembers(ctx, delta, deltasByRoom)]);

  for (const r of full) out.set(r.roomId, finish(ctx, r, fullState(ctx, r, current.get(r.roomId) ?? new Map(), deltasByRoom.get(r.roomId) ?? [])));
  for (const r of delta) out.set(r.roomId, finish(ctx, r, deltaState(ctx, r, deltasByRoom.get(r.roomId) ?? [], currentMembers.get(r.roomId) ?? new Map())));
  return out;
}

/** Current state of the full rooms: all non-member keys (of allowed types), and the members needed. */
async function loadCurrentState(ctx: StateContext, rooms: readonly StateRoomRequest[]): Promise<Map<string, Map<string, string>>> {
  const out = new Map<string, Map<string, string>>();
  if (rooms.length === 0) return out;
  const { sql, filter } = ctx;
  const allMembers = rooms.filter((r) => r.members === undefined).map((r) => r.roomId);
  const pairRooms: string[] = [];
  const pairUsers: string[] = [];
  for (const r of rooms) {
    for (const u of r.members ?? []) {
      pairRooms.push(r.roomId);
      pairUsers.push(u);
    }
  }
  let typeCond = sql`true`;
  if (filter.types !== undefined) typeCond = filter.types.length === 0 ? sql`false` : sql`c.type LIKE ANY(${filter.types.map(globToLike)}::text[])`;
  if (filter.notTypes.length > 0) typeCond = sql`${typeCond} AND NOT (c.type LIKE ANY(${filter.notTypes.map(globToLike)}::text[]))`;
  const rows = await sql<{ room_id: string; type: string; state_key: string; event_id: string }[]>`
    SELECT c.room_id, c.type, c.state_key, c.event_id FROM current_state_events c
    WHERE c.room_id = ANY(${rooms.map((r) => r.roomId)}::text[]) AND ${typeCond}
      AND (c.type <> ${MEMBER} OR c.room_id = ANY(${allMembers}::text[])
           OR (c.room_id, c.state_key) IN (SELECT * FROM unnest(${pairRooms}::text[], ${pairUsers}::text[])))`;
  for (const r of rows) {
    let m = out.get(r.room_id);
    if (!m) out.set(r.room_id, (m = new Map()));
    m.set(stateKey(r.type, r.state_key), r.event_id);
  }
  return out;
}

/** Current member events of lazy-loaded members of delta rooms whose membership did not change since `since`. */
async function loadDeltaMembers(ctx: StateContext, rooms: readonly StateRoomRequest[], deltas: ReadonlyMap<string, Delta[]>): Promise<Map<string, Map<string, string>>> {
  const out = new Map<string, Map<string, string>>();
  const pairRooms: string[] = [];
  const pairUsers: string[] = [];
  for (const r of rooms) {
    if (!r.members || !keyAllowed(ctx.filter, MEMBER)) continue;
    const changed = new Set((deltas.get(r.roomId) ?? []).map((d) => d.key));
    for (const u of r.members) {
      if (changed.has(stateKey(MEMBER, u))) continue;
      pairRooms.push(r.roomId);
      pairUsers.push(u);
    }
  }
  if (pairRooms.length === 0) return out;
  const rows = await ctx.sql<{ room_id: string; state_key: string; event_id: string }[]>`
    SELECT c.room_id, c.state_key, c.event_id FROM current_state_events c
    JOIN unnest(${pairRooms}::text[], ${pairUsers}::text[]) AS p(room_id, user_id) ON c.room_id = p.room_id AND c.state_key = p.user_id
    WHERE c.type = ${MEMBER}`;
  for (const r of rows) {
    let m = out.get(r.room_id);
    if (!m) out.set(r.room_id, (m = new Map()));
    m.set(stateKey(MEMBER, r.state_key), r.event_id);
  }
  return out;
}

function undo(map: Map<string, string>, d: Delta): void {
  if (d.prevEventId !== undefined) map.set(d.key, d.prevEventId);
  else map.delete(d.key);
}

interface Candidates {
  /** Key → event ID to send (before lazy-loading and type filtering). */
  readonly state: Map<string, string>;
  /** Key → value at the point the client's state is taken (for lazy-loaded members that did not change). */
  readonly lookup: (key: string) => string | undefined;
  /** Member keys that changed inside a limited sync's gap (sent even if redundant). */
  readonly gap: ReadonlySet<string>;
}

function timelineFacts(r: StateRoomRequest): { ids: Set<string>; keys: Set<string>; first: number | undefined } {
  const ids = new Set<string>();
  const keys = new Set<string>();
  for (const ev of r.timeline) {
    ids.add(ev.eventId);
    if (ev.stateKey !== undefined) keys.add(stateKey(ev.type, ev.stateKey));
  }
  return { ids, keys, first: r.timeline[0]?.streamOrdering };
}

function fullState(ctx: StateContext, r: StateRoomRequest, current: ReadonlyMap<string, string>, deltas: readonly Delta[]): Candidates {
  const t = timelineFacts(r);
  const start = new Map(current);
  const end = new Map(current);
  for (let i = deltas.length - 1; i >= 0; i--) {
    const d = deltas[i] as Delta;
    const inWindow = within(ctx.token, d.stream, d.instance) && (r.cap === undefined || d.stream <= r.cap);
    if (!inWindow) undo(end, d);
    if (!inWindow || (t.first !== undefined && d.stream >= t.first)) undo(start, d);
  }
  const state = new Map<string, string>();
  const pick = (k: string) => (ctx.useStateAfter || !t.keys.has(k) ? end.get(k) : start.get(k));
  for (const k of new Set([...start.keys(), ...end.keys()])) {
    const v = pick(k);
    if (v !== undefined && (ctx.useStateAfter || !t.ids.has(v))) state.set(k, v);
  }
  return { state, lookup: pick, gap: new Set() };
}

function deltaState(ctx: StateContext, r: StateRoomRequest, deltas: readonly Delta[], currentMembers: ReadonlyMap<string, string>): Candidates {
  const since = ctx.since as ResolvedPosition;
  const t = timelineFacts(r);
  const perKey = new Map<string, { prev: string | undefined; start: string | undefined; end: string | undefined }>();
  for (const d of deltas) {
    let e = perKey.get(d.key);
    if (!e) perKey.set(d.key, (e = { prev: d.prevEventId, start: d.prevEventId, end: d.prevEventId }));
    if (within(since, d.stream, d.instance)) {
      e.prev = e.start = e.end = d.eventId; // the client has it already (a writer `since` had seen ahead)
    } else if (within(ctx.token, d.stream, d.instance) && (r.cap === undefined || d.stream <= r.cap)) {
      e.end = d.eventId;
      if (t.first === undefined || d.stream < t.first) e.start = d.eventId;
    }
  }
  const state = new Map<string, string>();
  const gap = new Set<string>();
  const pick = (k: string) => {
    const e = perKey.get(k);
    if (!e) return undefined;
    return ctx.useStateAfter || !t.keys.has(k) ? e.end : e.start;
  };
  for (const [k, e] of perKey) {
    const v = pick(k);
    if (v === undefined || v === e.prev || (!ctx.useStateAfter && t.ids.has(v))) continue;
    state.set(k, v);
    if (r.limited && k.startsWith(`${MEMBER}\u0000`) && (ctx.useStateAfter ? e.end : e.start) !== e.prev) gap.add(k);
  }
  return { state, lookup: (k) => (perKey.has(k) ? pick(k) : currentMembers.get(k)), gap };
}

/** Apply lazy-loading and the state filter's types; return event IDs. */
function finish(ctx: StateContext, r: StateRoomRequest, c: Candidates): string[] {
  const ids: string[] = [];
  const t = timelineFacts(r);
  const chosen = new Map<string, string>();
  for (const [k, v] of c.state) {
    const [type, sk] = splitStateKey(k);
    if (type === MEMBER && r.members !== undefined && !r.members.has(sk) && !c.gap.has(k)) continue;
    chosen.set(k, v);
  }
  if (r.members !== undefined) {
    for (const u of r.members) {
      const k = stateKey(MEMBER, u);
      if (chosen.has(k)) continue;
      const v = c.lookup(k);
      if (v !== undefined && (ctx.useStateAfter || !t.ids.has(v))) chosen.set(k, v);
    }
    if (ctx.alreadySent) {
      for (const [k, v] of chosen) {
        const [type, sk] = splitStateKey(k);
        if (type === MEMBER && !c.gap.has(k) && ctx.alreadySent(r.roomId, sk, v)) chosen.delete(k);
      }
    }
  }
  for (const [k, v] of chosen) if (keyAllowed(ctx.filter, splitStateKey(k)[0])) ids.push(v);
  return ids;
}
