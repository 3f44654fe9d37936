/** What the rooms operations share within one process: deps, the store and the event creator. */
import type { JsonObject } from '@hs/core';
import { canonicalJson } from '@hs/core';
import type { RoomsDeps } from './deps.ts';
import type { EventStore } from './event-store.ts';
import type { EventCreator } from './event-creator.ts';

export interface RoomsContext {
  readonly deps: RoomsDeps;
  readonly store: EventStore;
  readonly creator: EventCreator;
  readonly clock: () => number;
}

/** Same JSON value (key order ignored). */
export function sameJson(a: JsonObject, b: JsonObject): boolean {
  try {
    return canonicalJson(a, { lenientNumbers: true }) === canonicalJson(b, { lenientNumbers: true });
  } catch {
    return false;
  }
}

/** The profile keys of a member event: absent or null values are left out. */
export function profileContent(profile: { displayname?: string | null; avatar_url?: string | null } | undefined): JsonObject {
  const out: JsonObject = {};
  if (typeof profile?.displayname === 'string') out.displayname = profile.displayname;
  if (typeof profile?.avatar_url === 'string') out.avatar_url = profile.avatar_url;
  return out;
}
