/**
 * State resolution benchmark: a room with ~20,000 state events (thousands of members with
 * some membership history, a power levels history) forks into two or three branches that
 * together hold ~500 conflicting events — a demotion racing a moderator's bans, bans and kicks
 * on both sides, leaves, invites and joins, join rule and power level changes — and the
 * branches' states are resolved. Every event passes the auth rules at its own state.
 *
 * Run: node packages/events/bench/state-res.bench.ts
 */
import type { JsonObject } from '@hs/core';
import type { EventView, StateMap } from '../src/types.ts';
import { stateKey } from '../src/types.ts';
import type { RoomVersion } from '../src/room-versions.ts';
import { getRoomVersion } from '../src/room-versions.ts';
import { authEventTypesFor } from '../src/auth-event-selection.ts';
import { checkAuthRules } from '../src/auth-rules.ts';
import { resolveState, resolveStateDetailed } from '../src/state-res/index.ts';
import { separateV2 } from '../src/state-res/separate.ts';
import { EventGraph } from '../src/state-res/event-graph.ts';
import { authDifference } from '../src/state-res/auth-difference.ts';

const MEMBERS = 19_900;
const RUNS = 9;

const ALICE = '@alice:hs0.example'; // creator, 100
const BOB = '@bob:hs1.example'; // moderator, 50
const CAROL = '@carol:hs2.example'; // moderator, 50
const user = (i: number) => `@u${i}:hs${i % 50}.example`;
const newcomer = (fork: string, i: number) => `@new-${fork}${i}:hs${i % 7}.example`;

class Branch {
  readonly state: Map<string, string>;
  private tip: string | undefined;
  private readonly room: Room;
  constructor(room: Room, state: Map<string, string>, tip: string | undefined) {
    this.room = room;
    this.state = state;
    this.tip = tip;
  }
  fork(): Branch {
    return new Branch(this.room, new Map(this.state), this.tip);
  }
  /** Appends a state event if the auth rules allow it here; returns whether they did. */
  send(type: string, sender: string, key: string, content: JsonObject): boolean {
    const room = this.room;
    const base = { type, sender, state_key: key, content };
    const eventId = type === 'm.room.create' ? '$create' : `$e${++room.seq}`;
    const tipEvent = this.tip === undefined ? undefined : room.events.get(this.tip);
    const ev: EventView = {
      ...base,
      event_id: eventId,
      room_id: room.roomId,
      origin_server_ts: 1_700_000_000_000 + room.seq * 10,
      depth: (tipEvent?.depth ?? 0) + 1,
      auth_events: authEventTypesFor(room.version, base)
        .map(([t, k]) => this.state.get(stateKey(t, k)))
        .filter((e) => e !== undefined),
      prev_events: this.tip === undefined ? [] : [this.tip],
    };
    const authState = (t: string, k: string) => room.events.get(this.state.get(stateKey(t, k)) ?? '');
    if (!checkAuthRules(room.version, ev, authState).allowed) {
      room.denied++;
      return false;
    }
    room.events.set(eventId, ev);
    this.state.set(stateKey(type, key), eventId);
    this.tip = eventId;
    return true;
  }
  member(sender: string, target: string, membership: string, extra: JsonObject = {}): boolean {
    return this.send('m.room.member', sender, target, { membership, ...extra });
  }
  powerLevels(sender: string, change: (users: Record<string, number>) => void): boolean {
    const current = this.room.events.get(this.state.get(stateKey('m.room.power_levels', ''))!)!.content;
    const users = { ...(current['users'] as Record<string, number>) };
    change(users);
    return this.send('m.room.power_levels', sender, '', { ...current, users });
  }
}

class Room {
  readonly events = new Map<string, EventView>();
  readonly version: RoomVersion;
  readonly roomId: string;
  seq = 0;
  denied = 0;
  constructor(version: RoomVersion) {
    this.version = version;
    this.roomId = version.roomIdFromCreateEvent ? '!create' : '!bench:hs0.example';
  }
}

function buildRoom(version: RoomVersion, forkCount: number): { room: Room; sets: StateMap[] } {
  const room = new Room(version);
  const trunk = new Branch(room, new Map(), undefined);
  trunk.send('m.room.create', ALICE, '', version.implicitRoomCreator ? {} : { creator: ALICE });
  trunk.member(ALICE, ALICE, 'join');
  const users: Record<string, number> = { [BOB]: 50, [CAROL]: 50 };
  if (!version.privilegedCreators) users[ALICE] = 100; // v12 creators must not be listed
  trunk.send('m.room.power_levels', ALICE, '', { users, users_default: 0 });
  trunk.send('m.room.join_rules', ALICE, '', { join_rule: 'public' });
  trunk.send('m.room.history_visibility', ALICE, '', { history_visibility: 'shared' });
  trunk.send('m.room.name', ALICE, '', { name: 'Benchmark room' });
  trunk.member(BOB, BOB, 'join');
  trunk.member(CAROL, CAROL, 'join');
  for (let i = 0; i < MEMBERS; i++) {
    trunk.member(user(i), user(i), 'join');
    // Some membership history: profile changes, leave-and-rejoin, occasional bans.
    if (i % 20 === 0) trunk.member(user(i), user(i), 'join', { displayname: `user ${i}` });
    if (i % 50 === 7) {
      trunk.member(user(i), user(i), 'leave');
      trunk.member(user(i), user(i), 'join');
    }
    if (i % 500 === 499) trunk.member(BOB, user(i), 'ban', { reason: 'spam' });
    if (i % 2500 === 1249) trunk.powerLevels(ALICE, (u) => void (u[user(i)] = 10));
    if (i % 1000 === 0) trunk.send('m.room.topic', CAROL, '', { topic: `topic ${i}` });
  }

  // Fork A: Alice demotes Bob and cracks down, then makes the room invite-only.
  const a = trunk.fork();
  a.powerLevels(ALICE, (u) => {
    u[BOB] = 0;
    for (let i = 0; i < 5; i++) u[user(i)] = 50;
  });
  for (let i = 100; i < 180; i++) a.member(ALICE, user(i), 'ban');
  for (let i = 200; i < 240; i++) a.member(CAROL, user(i), 'leave'); // kicks
  for (let i = 300; i < 340; i++) a.member(user(i), user(i), 'leave');
  a.send('m.room.join_rules', ALICE, '', { join_rule: 'invite' });
  for (let i = 0; i < 40; i++) a.member(CAROL, newcomer('a', i), 'invite');
  for (let i = 0; i < 40; i++) a.member(newcomer('a', i), newcomer('a', i), 'join');
  for (let i = 0; i < 5; i++) a.send('m.room.topic', ALICE, '', { topic: `a${i}` });

  // Fork B: Bob, unaware of his demotion, bans and promotes; newcomers join while public.
  const b = trunk.fork();
  for (let i = 150; i < 230; i++) b.member(BOB, user(i), 'ban');
  b.powerLevels(CAROL, (u) => {
    for (let i = 10; i < 20; i++) u[user(i)] = 40;
  });
  for (let i = 0; i < 60; i++) b.member(newcomer('b', i), newcomer('b', i), 'join');
  for (let i = 320; i < 360; i++) b.member(user(i), user(i), 'leave');
  for (let i = 0; i < 10; i++) b.send('m.room.topic', BOB, '', { topic: `b${i}` });
  b.send('m.room.join_rules', BOB, '', { join_rule: version.knock ? 'knock' : 'invite' });
  for (let i = 400; i < 420; i++) b.member(BOB, user(i), 'leave');

  const sets: StateMap[] = [a.state, b.state];
  if (forkCount > 2) {
    // Fork C: a third server that only saw some joins and Carol's topic changes.
    const c = trunk.fork();
    for (let i = 0; i < 40; i++) c.member(newcomer('c', i), newcomer('c', i), 'join');
    for (let i = 500; i < 540; i++) c.member(CAROL, user(i), 'ban');
    for (let i = 0; i < 5; i++) c.send('m.room.topic', CAROL, '', { topic: `c${i}` });
    sets.push(c.state);
  }
  return { room, sets };
}

function median(xs: number[]): number {
  const s = [...xs].sort((p, q) => p - q);
  return s[Math.floor(s.length / 2)]!;
}

function time(fn: () => void): number[] {
  fn(); // warm up
  fn();
  const out: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    fn();
    out.push(performance.now() - t0);
  }
  return out;
}

for (const [id, forks] of [
  ['11', 2],
  ['12', 2],
  ['11', 3],
  ['12', 3],
] as const) {
  const version = getRoomVersion(id)!;
  const t0 = performance.now();
  const { room, sets } = buildRoom(version, forks);
  const built = performance.now() - t0;
  const { conflicted } = separateV2(sets);
  const conflictingEvents = new Set([...conflicted.values()].flat()).size;
  const lookup = (e: string) => room.events.get(e);
  const result = resolveStateDetailed(version, sets, lookup);
  const times = time(() => resolveState(version, sets, lookup));
  // What a storage layer with a chain cover index would hand over instead of full auth chains.
  const g = new EventGraph(lookup, version.roomIdFromCreateEvent);
  const perSet = sets.map((s) => [...conflicted.keys()].flatMap((k) => (s.has(k) ? [g.node(s.get(k)!)] : [])));
  const common = [...separateV2(sets).unconflicted.values()].map((e) => g.node(e));
  const difference = authDifference(g, common, perSet).map((n) => g.ids[n]!);
  const supplied = time(() => resolveState(version, sets, lookup, { authDifference: difference }));
  console.log(
    `room v${id} (${version.stateRes}), ${forks} forks: ${room.events.size} events, ` +
      `${Math.max(...sets.map((s) => s.size))} state entries, ${conflicted.size} conflicted keys / ${conflictingEvents} conflicting events ` +
      `(${room.denied} denied while building, built in ${built.toFixed(0)} ms)`,
  );
  console.log(
    `  resolve: median ${median(times).toFixed(1)} ms, min ${Math.min(...times).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms ` +
      `over ${RUNS} runs; resolved ${result.state.size} entries, ${result.missing.length} missing`,
  );
  console.log(`  with a supplied auth difference (${difference.length} events): median ${median(supplied).toFixed(1)} ms`);
}
