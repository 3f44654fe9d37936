import type { RoomVersion } from './room-versions.ts';
import { ROOM_VERSIONS } from './room-versions.ts';
import type { EventView } from './types.ts';
import type { AuthResult } from './auth-types.ts';
import { ALLOW, deny } from './auth-types.ts';
import { domainOf, isValidUserId } from './auth-ids.ts';

/** The rules for an m.room.create event (rule 1 in every version). */
export function checkCreateEvent(rv: RoomVersion, event: EventView): AuthResult {
  if (event.prev_events.length > 0) return deny('m.room.create must not have prev_events');
  if (rv.roomIdFromCreateEvent) {
    // The wire-level "no room_id" rule is enforced when the PDU is parsed; here the view's
    // room_id is derived, so it must agree with the event ID.
    if (event.room_id !== `!${event.event_id.slice(1)}`) return deny('m.room.create room_id is not derived from its event ID');
  } else {
    const roomDomain = domainOf(event.room_id);
    if (roomDomain === undefined || roomDomain !== domainOf(event.sender)) {
      return deny('m.room.create room_id domain does not match the sender domain');
    }
  }
  const version = event.content['room_version'];
  if (version !== undefined && (typeof version !== 'string' || !ROOM_VERSIONS.has(version))) {
    return deny('m.room.create has an unrecognised room_version');
  }
  if (!rv.implicitRoomCreator && !Object.hasOwn(event.content, 'creator')) return deny('m.room.create has no creator');
  if (rv.privilegedCreators) {
    const extra = event.content['additional_creators'];
    if (extra !== undefined && (!Array.isArray(extra) || !extra.every((u) => isValidUserId(u)))) {
      return deny('m.room.create additional_creators is not an array of valid user IDs');
    }
  }
  return ALLOW;
}

/**
 * The room's creators: `content.creator` (v1–10), the create sender (v11), plus
 * `additional_creators` (v12). Malformed entries are skipped.
 */
export function roomCreators(rv: RoomVersion, create: EventView | undefined): string[] {
  if (!create) return [];
  if (!rv.implicitRoomCreator) {
    const creator = create.content['creator'];
    return typeof creator === 'string' ? [creator] : [];
  }
  const creators = [create.sender];
  if (rv.privilegedCreators) {
    const extra = create.content['additional_creators'];
    if (Array.isArray(extra)) for (const u of extra) if (typeof u === 'string') creators.push(u);
  }
  return creators;
}
