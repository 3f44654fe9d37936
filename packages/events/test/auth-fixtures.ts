/** Small hand-built rooms for the auth rule tests (not a test file itself). */
import type { JsonObject } from '@hs/core';
import type { EventView } from '../src/types.ts';
import type { RoomVersion } from '../src/room-versions.ts';
import { ROOM_VERSIONS } from '../src/room-versions.ts';
import type { AuthStateLookup } from '../src/auth-types.ts';

export const ALICE = '@alice:a.org'; // creator
export const BOB = '@bob:b.org'; // moderator, level 50
export const CAROL = '@carol:c.org'; // joined, level 0
export const DAVE = '@dave:d.org'; // moderator, level 50
export const EVE = '@eve:e.org'; // outsider
export const ZED = '@zed:a.org'; // outsider on the creator's server

export const ALL_VERSIONS: RoomVersion[] = [...ROOM_VERSIONS.values()];
export const rv = (id: string): RoomVersion => ROOM_VERSIONS.get(id)!;

/** One representative per auth-rule family, plus every version for the broad tables. */
export const FAMILIES: Record<string, string[]> = {
  'v1-2': ['1', '2'],
  'v3-5': ['3', '4', '5'],
  v6: ['6'],
  v7: ['7'],
  'v8-9': ['8', '9'],
  v10: ['10'],
  v11: ['11'],
  v12: ['12'],
};

let seq = 0;
export interface Room {
  readonly rv: RoomVersion;
  readonly roomId: string;
  readonly create: EventView;
  /** Current state, keyed `type\0state_key`. */
  readonly state: Map<string, EventView>;
}

export function ev(
  room: Room | { roomId: string },
  type: string,
  sender: string,
  content: JsonObject,
  stateKey?: string,
  extra: Partial<EventView> = {},
): EventView {
  seq++;
  const domain = sender.slice(sender.indexOf(':') + 1);
  return {
    event_id: `$e${seq}:${domain}`,
    room_id: room.roomId,
    type,
    ...(stateKey === undefined ? {} : { state_key: stateKey }),
    sender,
    content,
    origin_server_ts: 1000 + seq,
    depth: seq,
    auth_events: [],
    prev_events: ['$prev:a.org'],
    ...extra,
  };
}

export function createEvent(version: RoomVersion, sender = ALICE, content: JsonObject = {}): EventView {
  const eventId = version.roomIdFromCreateEvent ? `$create${++seq}hash` : `$create${++seq}:a.org`;
  const roomId = version.roomIdFromCreateEvent ? `!${eventId.slice(1)}` : '!room:a.org';
  const base: JsonObject = { room_version: version.id };
  if (!version.implicitRoomCreator) base['creator'] = sender;
  return {
    event_id: eventId,
    room_id: roomId,
    type: 'm.room.create',
    state_key: '',
    sender,
    content: { ...base, ...content },
    origin_server_ts: 1,
    depth: 1,
    auth_events: [],
    prev_events: [],
  };
}

export interface RoomOptions {
  createContent?: JsonObject;
  joinRule?: string | null; // null = no join rules event
  /** Power levels content; null = no power levels event. */
  pl?: JsonObject | null;
  members?: Record<string, string>;
}

/** Levels used by default: ALICE 100 (or creator in v12), BOB and DAVE 50. */
export function defaultPl(version: RoomVersion, overrides: JsonObject = {}): JsonObject {
  const users: JsonObject = { [BOB]: 50, [DAVE]: 50 };
  if (!version.privilegedCreators) users[ALICE] = 100;
  return {
    users,
    users_default: 0,
    events: { 'm.room.power_levels': 50, 'm.room.name': 50 },
    events_default: 0,
    state_default: 50,
    ban: 50,
    kick: 50,
    redact: 50,
    invite: 0,
    ...overrides,
  };
}

export function makeRoom(version: RoomVersion, opts: RoomOptions = {}): Room {
  const create = createEvent(version, ALICE, opts.createContent);
  const room: Room = { rv: version, roomId: create.room_id, create, state: new Map() };
  put(room, create);
  const members = opts.members ?? { [ALICE]: 'join', [BOB]: 'join', [CAROL]: 'join', [DAVE]: 'join' };
  for (const [user, membership] of Object.entries(members)) {
    put(room, ev(room, 'm.room.member', user, { membership }, user));
  }
  if (opts.pl !== null) put(room, ev(room, 'm.room.power_levels', ALICE, opts.pl ?? defaultPl(version), ''));
  if (opts.joinRule !== null) put(room, ev(room, 'm.room.join_rules', ALICE, { join_rule: opts.joinRule ?? 'invite' }, ''));
  return room;
}

export function put(room: Room, e: EventView): void {
  room.state.set(`${e.type}\u0000${e.state_key}`, e);
}

/** The room's state as an auth lookup, with extra events layered on top. */
export function lookup(room: Room, ...extra: EventView[]): AuthStateLookup {
  const m = new Map(room.state);
  for (const e of extra) m.set(`${e.type}\u0000${e.state_key}`, e);
  return (type, key) => m.get(`${type}\u0000${key}`);
}

/** Membership event shorthand (sender defaults to the target). */
export function memberEv(room: Room, target: string, membership: string, sender = target, content: JsonObject = {}): EventView {
  return ev(room, 'm.room.member', sender, { membership, ...content }, target);
}

/** Sets a user's membership in the room state. */
export function setMember(room: Room, user: string, membership: string | undefined): void {
  if (membership === undefined) room.state.delete(`m.room.member\u0000${user}`);
  else put(room, ev(room, 'm.room.member', user, { membership }, user));
}

export type Expect = 'allow' | 'deny';
export interface AuthCase {
  readonly name: string;
  /** Versions the case applies to; all when omitted. */
  readonly when?: (v: RoomVersion) => boolean;
  readonly expect: Expect | ((v: RoomVersion) => Expect);
  /** For denials in versions where the rule under test applies: the reason must match. */
  readonly reason?: RegExp;
  readonly build: (v: RoomVersion) => { event: EventView; state: AuthStateLookup };
}
