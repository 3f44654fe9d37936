import type { JsonObject } from '@hs/core';
import { isJsonObject } from '@hs/core';
import type { RoomVersion } from './room-versions.ts';
import type { EventView } from './types.ts';
import type { AuthResult, AuthStateLookup } from './auth-types.ts';
import { ALLOW, deny } from './auth-types.ts';
import { isValidUserId } from './auth-ids.ts';
import { roomCreators } from './auth-create.ts';
import { levelMap, parsePowerLevel } from './auth-power-levels.ts';

const SCALAR_KEYS = ['users_default', 'events_default', 'state_default', 'ban', 'redact', 'kick', 'invite'] as const;

/** Nested maps whose entries are compared one by one; `notifications` only from v6. */
function nestedKeys(rv: RoomVersion): string[] {
  return rv.limitNotificationsPowerLevels ? ['events', 'notifications'] : ['events'];
}

/**
 * Shape checks on new power levels content. The spec only lists `users` for v1–9 and every
 * field for v10+; we also refuse unparseable values in v1–9, since the change rules below
 * could not compare them.
 */
function validateContent(rv: RoomVersion, content: JsonObject, creators: readonly string[]): AuthResult {
  for (const key of SCALAR_KEYS) {
    if (Object.hasOwn(content, key) && parsePowerLevel(rv, content[key]) === undefined) {
      return deny(`power levels: ${key} is not a valid power level`);
    }
  }
  for (const key of nestedKeys(rv)) {
    if (!Object.hasOwn(content, key)) continue;
    const map = content[key];
    if (!isJsonObject(map)) return deny(`power levels: ${key} is not an object`);
    for (const [k, v] of Object.entries(map)) {
      if (parsePowerLevel(rv, v) === undefined) return deny(`power levels: ${key}[${k}] is not a valid power level`);
    }
  }
  if (Object.hasOwn(content, 'users')) {
    const users = content['users'];
    if (!isJsonObject(users)) return deny('power levels: users is not an object');
    for (const [userId, v] of Object.entries(users)) {
      if (!isValidUserId(userId)) return deny(`power levels: users key ${userId} is not a valid user ID`);
      if (parsePowerLevel(rv, v) === undefined) return deny(`power levels: users[${userId}] is not a valid power level`);
      if (rv.privilegedCreators && creators.includes(userId)) {
        return deny(`power levels: room creator ${userId} must not be listed in users`);
      }
    }
  }
  return ALLOW;
}

/** The m.room.power_levels rule: content shape, then what the sender may change. */
export function checkPowerLevelsEvent(
  rv: RoomVersion,
  event: EventView,
  authState: AuthStateLookup,
  senderLevel: number,
): AuthResult {
  const creators = roomCreators(rv, authState('m.room.create', ''));
  const valid = validateContent(rv, event.content, creators);
  if (!valid.allowed) return valid;
  const current = authState('m.room.power_levels', '');
  if (!current) return ALLOW;
  const oldContent = current.content;
  const newContent = event.content;

  // Absent (or, in the old event, unparseable) values are "undefined": an added key has no
  // current value to check and a removed key no new value. `oldLimit` says how the current
  // value is held against the sender: other users' entries must be strictly below the sender,
  // the sender's own entry is not checked, everything else must not exceed the sender.
  type OldLimit = 'above' | 'at-or-above' | 'none';
  const changeAllowed = (what: string, oldV: number | undefined, newV: number | undefined, oldLimit: OldLimit) => {
    if (oldV === newV) return ALLOW;
    const oldTooHigh =
      oldV !== undefined && (oldLimit === 'above' ? oldV > senderLevel : oldLimit === 'at-or-above' && oldV >= senderLevel);
    if (oldTooHigh) {
      return deny(`power levels: cannot change ${what} from ${oldV} at sender level ${senderLevel}`);
    }
    if (newV !== undefined && newV > senderLevel) {
      return deny(`power levels: cannot set ${what} to ${newV} above sender level ${senderLevel}`);
    }
    return ALLOW;
  };

  for (const key of SCALAR_KEYS) {
    const r = changeAllowed(key, parsePowerLevel(rv, oldContent[key]), parsePowerLevel(rv, newContent[key]), 'above');
    if (!r.allowed) return r;
  }
  for (const key of [...nestedKeys(rv), 'users']) {
    const oldMap = levelMap(oldContent, key);
    const newMap = levelMap(newContent, key);
    for (const k of new Set([...Object.keys(oldMap), ...Object.keys(newMap)])) {
      const oldV = Object.hasOwn(oldMap, k) ? parsePowerLevel(rv, oldMap[k]) : undefined;
      const newV = Object.hasOwn(newMap, k) ? parsePowerLevel(rv, newMap[k]) : undefined;
      const oldLimit = key !== 'users' ? 'above' : k === event.sender ? 'none' : 'at-or-above';
      const r = changeAllowed(`${key}[${k}]`, oldV, newV, oldLimit);
      if (!r.allowed) return r;
    }
  }
  return ALLOW;
}
