/**
 * The authorisation rules for room versions 1–12, against a given auth state (the event's
 * auth events, the state before it, or the current state). Rules appear in the spec's order;
 * version differences come from RoomVersion flags. The list-shape checks on auth_events
 * (duplicates, selection, rejected entries) live in checkAuthEvents.
 */
import type { RoomVersion } from './room-versions.ts';
import type { EventView } from './types.ts';
import type { AuthResult, AuthStateLookup } from './auth-types.ts';
import { ALLOW, deny, withoutRejected } from './auth-types.ts';
import { domainOf } from './auth-ids.ts';
import { checkCreateEvent } from './auth-create.ts';
import { authEventTypesFor } from './auth-event-selection.ts';
import { readPowerLevels } from './auth-power-levels.ts';
import { checkPowerLevelsEvent } from './auth-power-levels-change.ts';
import { checkMemberEvent, membershipOf } from './auth-membership.ts';

export type { AuthResult, AuthStateLookup } from './auth-types.ts';
export { authStateFromEvents } from './auth-types.ts';
export { senderPowerLevel, parsePowerLevel } from './auth-power-levels.ts';

/** Never throws: malformed content fails the rule that reads it. */
export function checkAuthRules(rv: RoomVersion, event: EventView, authState: AuthStateLookup): AuthResult {
  if (event.type === 'm.room.create') return checkCreateEvent(rv, event);
  const state = withoutRejected(authState);

  const create = state('m.room.create', '');
  if (!create) return deny('no m.room.create in the auth state');
  if (rv.roomIdFromCreateEvent && event.room_id !== `!${create.event_id.slice(1)}`) {
    return deny('room_id is not derived from the m.room.create event ID');
  }
  for (const [type, key] of authEventTypesFor(rv, event)) {
    const ae = state(type, key);
    if (ae && ae.room_id !== event.room_id) return deny(`auth event ${ae.event_id} is from another room`);
  }
  if (create.content['m.federate'] === false && domainOf(event.sender) !== domainOf(create.sender)) {
    return deny('room is not federated and the sender is from another server');
  }

  if (rv.specialCaseAliasesAuth && event.type === 'm.room.aliases') {
    if (event.state_key === undefined) return deny('m.room.aliases without state_key');
    if (event.state_key !== domainOf(event.sender)) return deny('m.room.aliases state_key is not the sender domain');
    return ALLOW;
  }

  if (event.type === 'm.room.member') return checkMemberEvent(rv, event, state, create);

  if (membershipOf(state, event.sender) !== 'join') return deny('sender is not joined to the room');

  const pl = readPowerLevels(rv, state);
  const senderLevel = pl.userLevel(event.sender);
  if (event.type === 'm.room.third_party_invite') {
    return senderLevel >= pl.invite ? ALLOW : deny('m.room.third_party_invite: sender is below the invite level');
  }
  const required = pl.eventLevel(event.type, event.state_key !== undefined);
  if (required > senderLevel) return deny(`${event.type} needs power level ${required}, sender has ${senderLevel}`);

  if (event.state_key?.startsWith('@') && event.state_key !== event.sender) {
    return deny('state_key starting with @ must be the sender');
  }

  if (event.type === 'm.room.power_levels') return checkPowerLevelsEvent(rv, event, state, senderLevel);

  if (rv.redactionAuthRule && event.type === 'm.room.redaction') {
    if (senderLevel >= pl.redact) return ALLOW;
    const target = event.redacts;
    if (target !== undefined && domainOf(target) !== undefined && domainOf(target) === domainOf(event.event_id)) {
      return ALLOW;
    }
    return deny('m.room.redaction: sender is below the redact level and redacts another server’s event');
  }
  return ALLOW;
}
