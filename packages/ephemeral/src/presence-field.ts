/** Reading a presence state out of a replication body (see @hs/replication's body readers). */
import { errors } from '@hs/core';
import type { Fields } from '@hs/replication';
import { isPresenceValue, type PresenceValue } from './presence-state.ts';

export function presenceField(f: Fields, key: string): PresenceValue {
  const value = f[key];
  if (!isPresenceValue(value)) throw errors.badJson(`${key} must be online, unavailable or offline`);
  return value;
}
