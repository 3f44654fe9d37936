/**
 * Who may see what (client-server-api › Room History Visibility › Server behaviour), batched for
 * /messages, /sync, /context and /event, and who may read a room's state.
 *
 * The state "at an event" is the state after it (see docs/storage.md), so membership includes the
 * event's own change, which is also what `unsigned.membership` reports. For history visibility
 * events and the user's own member events, the state before counts too (the spec's "before or
 * after" rule); it comes from the replaced event.
 */
import { errors } from '@hs/core';
import { stateKey } from '@hs/events';
import type { EventStore } from './event-store.ts';
import type { StoredEvent } from './stored-event.ts';

export type HistoryVisibility = 'world_readable' | 'shared' | 'invited' | 'joined';

export interface VisibleEvent {
  readonly event: StoredEvent;
  /** The user's membership at the event ('leave' if they had none), for unsigned.membership. */
  readonly membership: string;
}

/** An unknown or missing value counts as `shared`. */
export function parseHistoryVisibility(value: unknown): HistoryVisibility {
  return value === 'world_readable' || value === 'invited' || value === 'joined' ? value : 'shared';
}

function allowed(visibility: HistoryVisibility, membership: string, joinedLater: boolean): boolean {
  if (visibility === 'world_readable') return true;
  if (membership === 'join') return true;
  if (visibility === 'shared' && joinedLater) return true;
  return visibility === 'invited' && membership === 'invite';
}

/**
 * The events `userId` may see, in input order, each with the user's membership at it. Events of
 * rooms the user forgot, and events without state (outliers), are never visible. Four queries
 * whatever the number of events.
 */
export async function filterEventsForUser(store: EventStore, userId: string, events: readonly StoredEvent[]): Promise<VisibleEvent[]> {
  if (events.length === 0) return [];
  const rooms = [...new Set(events.map((e) => e.roomId))];
  const [userRows, groups] = await Promise.all([
    // Per room: whether the user forgot it, and when they last joined it.
    store.sql<{ room_id: string; forgotten: boolean | null; last_join: number | null }[]>`
      SELECT r.room_id,
             (SELECT m.forgotten FROM local_current_membership m WHERE m.user_id = ${userId} AND m.room_id = r.room_id) AS forgotten,
             (SELECT max(j.stream_ordering) FROM room_memberships j
               WHERE j.user_id = ${userId} AND j.room_id = r.room_id AND j.membership = 'join') AS last_join
      FROM unnest(${rooms}::text[]) AS r(room_id)`,
    store.state.groupsForEvents(events.map((e) => e.eventId)),
  ]);
  const forgotten = new Set(userRows.filter((r) => r.forgotten === true).map((r) => r.room_id));
  const lastJoin = new Map(userRows.flatMap((r) => (r.last_join === null ? [] : [[r.room_id, Number(r.last_join)] as const])));
  const hvKey = stateKey('m.room.history_visibility', '');
  const memberKey = stateKey('m.room.member', userId);
  const states = await store.state.groupsState([...new Set(groups.values())], [
    ['m.room.history_visibility', ''],
    ['m.room.member', userId],
  ]);

  const needed = new Set<string>();
  for (const ev of events) {
    const g = groups.get(ev.eventId);
    const st = g === undefined ? undefined : states.get(g);
    if (!st) continue;
    const hv = st.get(hvKey);
    const m = st.get(memberKey);
    if (hv) needed.add(hv);
    if (m) needed.add(m);
    const ownChange = (ev.type === 'm.room.history_visibility' && ev.stateKey === '') || (ev.type === 'm.room.member' && ev.stateKey === userId);
    if (ownChange && ev.replacesState) needed.add(ev.replacesState);
  }
  const related = await store.getEvents(needed);
  const visibilityOf = (id: string | undefined) => parseHistoryVisibility(id === undefined ? undefined : related.get(id)?.pdu.content?.history_visibility);
  const membershipOf = (id: string | undefined) => (id === undefined ? 'leave' : (related.get(id)?.membership ?? 'leave'));

  const out: VisibleEvent[] = [];
  for (const ev of events) {
    if (forgotten.has(ev.roomId)) continue;
    const g = groups.get(ev.eventId);
    const st = g === undefined ? undefined : states.get(g);
    if (!st) continue;
    const membership = membershipOf(st.get(memberKey));
    const visibilities = [visibilityOf(st.get(hvKey))];
    const memberships = [membership];
    if (ev.type === 'm.room.history_visibility' && ev.stateKey === '') visibilities.push(visibilityOf(ev.replacesState));
    if (ev.type === 'm.room.member' && ev.stateKey === userId) memberships.push(membershipOf(ev.replacesState));
    const joinedLater = (lastJoin.get(ev.roomId) ?? -Infinity) > ev.streamOrdering;
    if (visibilities.some((v) => memberships.some((m) => allowed(v, m, joinedLater)))) out.push({ event: ev, membership });
  }
  return out;
}

/** Where a user may read a room's state from. */
export type StateAccess = { readonly kind: 'current' } | { readonly kind: 'at_leave'; readonly eventId: string };

/** The room's current history visibility. */
export async function currentHistoryVisibility(store: EventStore, roomId: string): Promise<HistoryVisibility> {
  const [ev] = await store.getCurrentStateEvents(roomId, [['m.room.history_visibility', '']]);
  return parseHistoryVisibility(ev?.pdu.content?.history_visibility);
}

/**
 * State reads (/state, /members, /state/{type}/{key}): members see the current state; users who
 * left (and did not forget) see the state when they left; anyone sees a world_readable room's
 * current state; everyone else gets 403, as Synapse answers.
 */
export async function stateAccessFor(store: EventStore, userId: string, roomId: string): Promise<StateAccess> {
  const m = await store.getLocalMembership(roomId, userId);
  if (m?.membership === 'join') return { kind: 'current' };
  if (m?.membership === 'leave' && !m.forgotten) return { kind: 'at_leave', eventId: m.eventId };
  if ((await store.getRoomVersion(roomId)) !== undefined && (await currentHistoryVisibility(store, roomId)) === 'world_readable') {
    return { kind: 'current' };
  }
  throw errors.forbidden(`User ${userId} is not in room ${roomId} and was not before`);
}
