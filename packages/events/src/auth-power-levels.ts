import type { JsonObject, JsonValue } from '@hs/core';
import { isJsonObject } from '@hs/core';
import type { RoomVersion } from './room-versions.ts';
import type { AuthStateLookup } from './auth-types.ts';
import { withoutRejected } from './auth-types.ts';
import { roomCreators } from './auth-create.ts';

/** v1–9 accept integers written as strings: optional blanks and sign around decimal digits. */
const STRINGY_INTEGER = /^\s*[+-]?[0-9]+\s*$/;

/**
 * One power level value under the room version's rules, or undefined if it is not a valid level.
 * v10+: JSON integers only. v1–9 also take integer strings; v1–5 (no canonical JSON
 * enforcement) also take finite floats, truncated toward zero.
 */
export function parsePowerLevel(rv: RoomVersion, value: JsonValue | undefined): number | undefined {
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return value;
    if (!rv.strictCanonicalJson && Number.isFinite(value)) return Math.trunc(value);
    return undefined;
  }
  if (typeof value === 'string' && !rv.integerPowerLevels && STRINGY_INTEGER.test(value)) {
    return Number.parseInt(value.trim(), 10);
  }
  return undefined;
}

/** A nested level map (`users`, `events`, `notifications`) or an empty object when malformed. */
export function levelMap(content: JsonObject | undefined, key: string): JsonObject {
  const v = content?.[key];
  return isJsonObject(v) ? v : {};
}

/** The effective levels of a room, with the spec's defaults filled in. */
export interface PowerLevels {
  userLevel(userId: string): number;
  /** The required power level to send an event of this type. */
  eventLevel(type: string, isState: boolean): number;
  readonly ban: number;
  readonly kick: number;
  readonly invite: number;
  readonly redact: number;
}

/**
 * Reads levels from the auth state. Values that fail to parse in an already accepted
 * power levels event fall back to the default instead of throwing.
 */
export function readPowerLevels(rv: RoomVersion, authState: AuthStateLookup): PowerLevels {
  const creators = roomCreators(rv, authState('m.room.create', ''));
  const pl = authState('m.room.power_levels', '')?.content;
  const num = (key: string, dflt: number): number => parsePowerLevel(rv, pl?.[key]) ?? dflt;
  const users = levelMap(pl, 'users');
  const events = levelMap(pl, 'events');
  const usersDefault = num('users_default', 0);
  const stateDefault = num('state_default', 50);
  const eventsDefault = num('events_default', 0);
  return {
    userLevel(userId) {
      if (rv.privilegedCreators && creators.includes(userId)) return Infinity;
      // With no power levels event the creator has 100 and everyone else 0.
      if (!pl) return creators.includes(userId) ? 100 : 0;
      return Object.hasOwn(users, userId) ? (parsePowerLevel(rv, users[userId]) ?? usersDefault) : usersDefault;
    },
    eventLevel(type, isState) {
      const explicit = Object.hasOwn(events, type) ? parsePowerLevel(rv, events[type]) : undefined;
      return explicit ?? (isState ? stateDefault : eventsDefault);
    },
    ban: num('ban', 50),
    kick: num('kick', 50),
    invite: num('invite', 0),
    redact: num('redact', 50),
  };
}

/** A user's power level in the auth state; room creators in v12 have Infinity. */
export function senderPowerLevel(rv: RoomVersion, sender: string, authState: AuthStateLookup): number {
  return readPowerLevels(rv, withoutRejected(authState)).userLevel(sender);
}
