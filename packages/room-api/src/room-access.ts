/**
 * Who may read a room's timeline (as Synapse's check_user_in_room_or_world_readable): members;
 * users who left (and did not forget), up to their leave; anyone if the room is world_readable;
 * everyone else gets 403. Which events inside the allowed range are visible is then decided per
 * event by history visibility (filterEventsForUser).
 */
import { errors } from '@hs/core';
import type { EventStore, StoredEvent, VisibleEvent } from '@hs/rooms';
import { filterEventsForUser, stateAccessFor } from '@hs/rooms';
import type { Position } from './positions.ts';
import { positionAfter } from './positions.ts';

export interface ReadAccess {
  /** Set for users who left: the position after their leave event, beyond which they see nothing. */
  readonly until?: Position;
  /** The leave event, for users who left. */
  readonly leaveEventId?: string;
}

export async function roomReadAccess(store: EventStore, userId: string, roomId: string, opts: { allowDeparted?: boolean } = {}): Promise<ReadAccess> {
  const access = await stateAccessFor(store, userId, roomId);
  if (access.kind === 'current') return {};
  if (opts.allowDeparted === false) throw errors.forbidden(`User ${userId} is not in room ${roomId}`);
  const leave = await store.getEvent(access.eventId);
  if (!leave) return {};
  return { until: positionAfter(leave), leaveEventId: leave.eventId };
}

/**
 * History visibility, then the user's ignore list: events (other than state) from ignored users
 * are dropped, as Synapse's filter_events_for_client does.
 */
export async function visibleEvents(
  store: EventStore,
  userId: string,
  events: readonly StoredEvent[],
  ignored: ReadonlySet<string>,
): Promise<VisibleEvent[]> {
  const kept = ignored.size === 0 ? events : events.filter((e) => e.stateKey !== undefined || !ignored.has(e.sender));
  return filterEventsForUser(store, userId, kept);
}
