import type { JsonObject } from '@hs/core';
import { isJsonObject } from '@hs/core';
import type { RoomVersion } from './room-versions.ts';
import type { EventView } from './types.ts';
import type { AuthResult } from './auth-types.ts';
import { ALLOW, deny } from './auth-types.ts';

/** Which (type, state_key) pairs an event of this shape needs in auth_events (the spec's "Auth events selection"). */
export function authEventTypesFor(
  rv: RoomVersion,
  event: { type: string; state_key?: string; sender: string; content: JsonObject },
): Array<[string, string]> {
  if (event.type === 'm.room.create') return [];
  const out: Array<[string, string]> = [];
  const seen = new Set<string>();
  const add = (type: string, key: string) => {
    const k = `${type}\u0000${key}`;
    if (!seen.has(k)) {
      seen.add(k);
      out.push([type, key]);
    }
  };
  // v12 rooms name their create event through the room ID instead.
  if (!rv.roomIdFromCreateEvent) add('m.room.create', '');
  add('m.room.power_levels', '');
  add('m.room.member', event.sender);
  if (event.type === 'm.room.member' && event.state_key !== undefined) {
    const membership = event.content['membership'];
    add('m.room.member', event.state_key);
    if (membership === 'join' || membership === 'invite' || (rv.knock && membership === 'knock')) {
      add('m.room.join_rules', '');
    }
    if (membership === 'invite') {
      const tpi = event.content['third_party_invite'];
      const signed = isJsonObject(tpi) ? tpi['signed'] : undefined;
      const token = isJsonObject(signed) ? signed['token'] : undefined;
      if (typeof token === 'string') add('m.room.third_party_invite', token);
    }
    if (membership === 'join' && rv.restrictedJoinRule) {
      const via = event.content['join_authorised_via_users_server'];
      if (typeof via === 'string') add('m.room.member', via);
    }
  }
  return out;
}

/**
 * The auth rules' checks on the auth_events list itself, for callers holding the actual
 * events: no duplicate (type, state_key), only selectable entries, none rejected, all in the
 * same room, and (before v12) a create event among them. checkAuthRules then runs on a
 * lookup built from the same events.
 */
export function checkAuthEvents(rv: RoomVersion, event: EventView, authEvents: readonly EventView[]): AuthResult {
  if (event.type === 'm.room.create') return ALLOW;
  const allowed = new Set(authEventTypesFor(rv, event).map(([t, k]) => `${t}\u0000${k}`));
  const seen = new Set<string>();
  let hasCreate = false;
  for (const ae of authEvents) {
    const key = `${ae.type}\u0000${ae.state_key ?? ''}`;
    if (ae.state_key === undefined || !allowed.has(key)) {
      return deny(`auth event ${ae.event_id} (${ae.type}, ${String(ae.state_key)}) is not selectable for this event`);
    }
    if (seen.has(key)) return deny(`duplicate auth event for (${ae.type}, ${ae.state_key})`);
    seen.add(key);
    if (ae.rejected) return deny(`auth event ${ae.event_id} was rejected`);
    if (ae.room_id !== event.room_id) return deny(`auth event ${ae.event_id} is from another room`);
    if (ae.type === 'm.room.create') hasCreate = true;
  }
  if (!rv.roomIdFromCreateEvent && !hasCreate) return deny('no m.room.create among auth_events');
  return ALLOW;
}
