/**
 * Permission checks the directory needs that the auth rules do not make: whether a user may edit a
 * room's directory entry or remove its aliases. Like Synapse, that is "a joined member who could
 * send m.room.canonical_alias" (or a server admin), read from the room's current state.
 */
import type { EventView } from '@hs/events';
import { getRoomVersion, stateKey } from '@hs/events';
import { readPowerLevels } from '@hs/events/auth-power-levels';
import type { EventStore } from '@hs/rooms';
import { eventViewOf } from '@hs/rooms';

export interface RoomPower {
  readonly joined: boolean;
  /** The user's power level (Infinity for v12 creators). */
  readonly level: number;
  /** The level needed to send a state event of this type. */
  stateLevel(type: string): number;
  readonly ban: number;
}

/** The user's standing in the room's current state; undefined for a room we do not know. */
export async function roomPowerOf(store: EventStore, roomId: string, userId: string): Promise<RoomPower | undefined> {
  const version = await store.getRoomVersion(roomId);
  const rv = version === undefined ? undefined : getRoomVersion(version);
  if (!rv) return undefined;
  const events = await store.getCurrentStateEvents(roomId, [
    ['m.room.create', ''],
    ['m.room.power_levels', ''],
    ['m.room.member', userId],
  ]);
  const views = new Map<string, EventView>();
  for (const ev of events) if (ev.stateKey !== undefined) views.set(stateKey(ev.type, ev.stateKey), eventViewOf(ev));
  const pl = readPowerLevels(rv, (t, k) => views.get(stateKey(t, k)));
  return {
    joined: views.get(stateKey('m.room.member', userId))?.content.membership === 'join',
    level: pl.userLevel(userId),
    stateLevel: (type) => pl.eventLevel(type, true),
    ban: pl.ban,
  };
}

/** May edit the room's published-directory entry / delete any of its aliases. */
export async function canChangeRoomList(store: EventStore, roomId: string, userId: string, isAdmin: boolean): Promise<boolean> {
  if (isAdmin) return true;
  const p = await roomPowerOf(store, roomId, userId);
  return p !== undefined && p.joined && p.level >= p.stateLevel('m.room.canonical_alias');
}
