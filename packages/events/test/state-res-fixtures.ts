/** Room DAG builders for the state resolution tests (not a test file itself). */
import type { JsonObject } from '@hs/core';
import type { EventView, StateMap } from '../src/types.ts';
import { stateKey } from '../src/types.ts';
import type { RoomVersion } from '../src/room-versions.ts';
import { getRoomVersion } from '../src/room-versions.ts';
import { authEventTypesFor } from '../src/auth-event-selection.ts';
import { checkAuthRules } from '../src/auth-rules.ts';
import type { EventLookup } from '../src/state-res/index.ts';
import { resolveState } from '../src/state-res/index.ts';

export const ALICE = '@alice:example.com';
export const BOB = '@bob:example.com';
export const CHARLIE = '@charlie:example.com';
export const EVELYN = '@evelyn:example.com';
export const ZARA = '@zara:example.com';

export const rv = (id: string): RoomVersion => getRoomVersion(id)!;
/** Room v11 resolved with the v12 algorithm: isolates the algorithm change from v12's auth changes. */
export const V11_WITH_V21: RoomVersion = { ...rv('11'), id: '11+v2.1', stateRes: 'v2.1' };

export const PL = 'm.room.power_levels';
export const JR = 'm.room.join_rules';
export const MEMBER = 'm.room.member';
export const TOPIC = 'm.room.topic';

export const id = (name: string): string => `$${name}`;
export const roomIdFor = (version: RoomVersion): string =>
  version.roomIdFromCreateEvent ? `!${id('CREATE').slice(1)}` : '!test:example.com';

/** Events by ID, with the lookup state resolution takes. */
export class EventStore {
  readonly events = new Map<string, EventView>();
  readonly lookup: EventLookup = (eventId) => this.events.get(eventId);
  add(ev: EventView): EventView {
    this.events.set(ev.event_id, ev);
    return ev;
  }
}

/** A state map from events. */
export function stateOf(...events: EventView[]): Map<string, string> {
  return new Map(events.map((e) => [stateKey(e.type, e.state_key!), e.event_id]));
}

/** Readable form of a state map for assertion messages: `type|state_key` → event ID. */
export function show(state: StateMap): Record<string, string> {
  return Object.fromEntries([...state].map(([k, v]) => [k.replace('\u0000', '|'), v]).sort());
}

export interface NodeSpec {
  readonly id: string;
  readonly type: string;
  readonly sender: string;
  readonly state_key?: string;
  readonly content?: JsonObject;
}

/** Power levels content; v12 creators have infinite power and must not be listed. */
export function plContent(version: RoomVersion, users: Record<string, number>, extra: JsonObject = {}): JsonObject {
  const listed = { ...users };
  if (version.privilegedCreators) delete listed[ALICE];
  return { users: listed, ...extra };
}

export const member = (nodeId: string, sender: string, target: string, membership: string): NodeSpec => ({
  id: nodeId,
  type: MEMBER,
  sender,
  state_key: target,
  content: { membership },
});

/** The room every DAG scenario starts from (a line ending at START; END is the merge point). */
export function initialNodes(version: RoomVersion): NodeSpec[] {
  return [
    { id: 'CREATE', type: 'm.room.create', sender: ALICE, state_key: '', content: version.implicitRoomCreator ? {} : { creator: ALICE } },
    member('IMA', ALICE, ALICE, 'join'),
    { id: 'IPOWER', type: PL, sender: ALICE, state_key: '', content: plContent(version, { [ALICE]: 100 }) },
    { id: 'IJR', type: JR, sender: ALICE, state_key: '', content: { join_rule: 'public' } },
    member('IMB', BOB, BOB, 'join'),
    member('IMC', CHARLIE, CHARLIE, 'join'),
    member('IMZ', ZARA, ZARA, 'join'),
    { id: 'START', type: 'm.room.message', sender: ZARA, content: {} },
    { id: 'END', type: 'm.room.message', sender: ZARA, content: {} },
  ];
}
const INITIAL_CHAIN = ['START', 'IMZ', 'IMC', 'IMB', 'IJR', 'IPOWER', 'IMA', 'CREATE'];

export interface Dag {
  readonly store: EventStore;
  /** State after each node. */
  readonly stateAt: Map<string, StateMap>;
}

/**
 * Builds a DAG from chains of `[child, parent, grandparent…]` edges (prev_events), processing
 * nodes in topological order with ties broken by name, so timestamps follow that order. The
 * state before a node is the resolution of its parents' states; its auth events are selected
 * from that state. Events are not auth-checked: scenarios may contain events a server would
 * reject, which is what state resolution has to cope with.
 */
export function buildDag(version: RoomVersion, nodes: NodeSpec[], edges: string[][]): Dag {
  const all = [...initialNodes(version), ...nodes];
  const specs = new Map(all.map((n) => [n.id, n]));
  const prevs = new Map(all.map((n) => [n.id, new Set<string>()]));
  for (const chain of [INITIAL_CHAIN, ...edges]) {
    for (let i = 0; i + 1 < chain.length; i++) prevs.get(chain[i]!)!.add(chain[i + 1]!);
  }
  const store = new EventStore();
  const stateAt = new Map<string, StateMap>();
  const roomId = roomIdFor(version);
  const done = new Set<string>();
  let ts = 0;
  while (done.size < all.length) {
    const ready = [...prevs].filter(([n, ps]) => !done.has(n) && [...ps].every((p) => done.has(p))).map(([n]) => n);
    if (ready.length === 0) throw new Error('cycle in scenario edges');
    const name = ready.sort()[0]!;
    const spec = specs.get(name)!;
    const parents = [...prevs.get(name)!];
    const before =
      parents.length === 0
        ? new Map<string, string>()
        : new Map(resolveState(version, parents.map((p) => stateAt.get(p)!), store.lookup));
    const content = spec.content ?? {};
    const authEvents = authEventTypesFor(version, { ...spec, content })
      .map(([t, k]) => before.get(stateKey(t, k)))
      .filter((e) => e !== undefined);
    const ev: EventView = {
      event_id: id(name),
      room_id: roomId,
      type: spec.type,
      ...(spec.state_key === undefined ? {} : { state_key: spec.state_key }),
      sender: spec.sender,
      content,
      origin_server_ts: ts++,
      depth: 1 + Math.max(0, ...parents.map((p) => store.events.get(id(p))!.depth)),
      auth_events: authEvents,
      prev_events: parents.map(id),
    };
    store.add(ev);
    if (spec.state_key !== undefined) before.set(stateKey(spec.type, spec.state_key), ev.event_id);
    stateAt.set(name, before);
    done.add(name);
  }
  return { store, stateAt };
}

/**
 * The entries of the state at END that are expected or that changed since START, and the
 * expected entries (node names) in the same form, for comparing like Synapse's scenario tests.
 */
export function endStateVsExpected(dag: Dag, expectedNodes: string[]): [Record<string, string>, Record<string, string>] {
  const expected = new Map<string, string>();
  for (const n of expectedNodes) {
    const ev = dag.store.events.get(id(n))!;
    expected.set(stateKey(ev.type, ev.state_key!), ev.event_id);
  }
  const start = dag.stateAt.get('START')!;
  const end = dag.stateAt.get('END')!;
  const actual = new Map([...end].filter(([k, v]) => expected.has(k) || start.get(k) !== v));
  return [show(actual), show(expected)];
}

/** One random step of a room's history; numbers are reduced modulo what they choose from. */
export interface Step {
  readonly tip: number;
  readonly merge: number;
  readonly action: number;
  readonly user: number;
  readonly arg: number;
}

const USERS = [ALICE, BOB, CHARLIE, EVELYN, ZARA];

export interface RandomRoom {
  readonly store: EventStore;
  /** The state after every event, in creation order. */
  readonly states: StateMap[];
}

/**
 * A random but well-formed room: forks and merges of memberships, bans, kicks, power level
 * and join rule changes and topics. Each event is kept only if the auth rules allow it at the
 * state before it (resolved from its parents), as a server would.
 */
export function randomRoom(version: RoomVersion, steps: readonly Step[]): RandomRoom {
  const store = new EventStore();
  const roomId = roomIdFor(version);
  const stateAfter = new Map<string, StateMap>();
  const states: StateMap[] = [];
  let tips: string[] = [];
  let seq = 0;

  const add = (type: string, sender: string, stateKeyValue: string | undefined, content: JsonObject, parents: string[]): boolean => {
    const before =
      parents.length === 0
        ? new Map<string, string>()
        : parents.length === 1
          ? new Map(stateAfter.get(parents[0]!)!)
          : new Map(resolveState(version, parents.map((p) => stateAfter.get(p)!), store.lookup));
    const eventId = type === 'm.room.create' ? id('CREATE') : `$e${++seq}`;
    const base = { type, sender, content, ...(stateKeyValue === undefined ? {} : { state_key: stateKeyValue }) };
    const ev: EventView = {
      ...base,
      event_id: eventId,
      room_id: roomId,
      origin_server_ts: 1000 + seq * 7 - (seq % 3) * 5, // not monotonic: ties and inversions happen
      depth: 1 + Math.max(0, ...parents.map((p) => store.events.get(p)!.depth)),
      auth_events: authEventTypesFor(version, base)
        .map(([t, k]) => before.get(stateKey(t, k)))
        .filter((e) => e !== undefined),
      prev_events: parents,
    };
    const authState = (t: string, k: string) => {
      const e = before.get(stateKey(t, k));
      return e === undefined ? undefined : store.events.get(e);
    };
    if (!checkAuthRules(version, ev, authState).allowed) return false;
    store.add(ev);
    if (stateKeyValue !== undefined) before.set(stateKey(type, stateKeyValue), eventId);
    stateAfter.set(eventId, before);
    states.push(before);
    tips = [...tips.filter((t) => !parents.includes(t)), eventId];
    return true;
  };
  const line = (type: string, sender: string, key: string | undefined, content: JsonObject) =>
    add(type, sender, key, content, tips.slice(-1));

  line('m.room.create', ALICE, '', version.implicitRoomCreator ? {} : { creator: ALICE });
  line(MEMBER, ALICE, ALICE, { membership: 'join' });
  line(PL, ALICE, '', plContent(version, { [ALICE]: 100, [BOB]: 50 }));
  line(JR, ALICE, '', { join_rule: 'public' });
  line(MEMBER, BOB, BOB, { membership: 'join' });
  line(MEMBER, CHARLIE, CHARLIE, { membership: 'join' });

  for (const s of steps) {
    const first = tips[s.tip % tips.length]!;
    const second = tips[s.merge % tips.length]!;
    // Every third step merges two tips; otherwise it extends (and so may fork) one.
    const parents = s.merge % 3 === 0 && second !== first ? [first, second] : [first];
    const user = USERS[s.user % USERS.length]!;
    const admin = s.arg % 2 === 0 ? ALICE : BOB;
    switch (s.action % 7) {
      case 0:
        add(MEMBER, user, user, { membership: 'join' }, parents);
        break;
      case 1:
        add(MEMBER, user, user, { membership: 'leave' }, parents);
        break;
      case 2:
        add(MEMBER, admin, user, { membership: s.arg % 3 === 0 ? 'leave' : 'ban' }, parents);
        break;
      case 3: {
        const pl = store.events.get(stateAfter.get(first)!.get(stateKey(PL, ''))!)!;
        const users = { ...(pl.content['users'] as Record<string, number>) };
        if (!(version.privilegedCreators && user === ALICE)) users[user] = [0, 50, 100][s.arg % 3]!;
        add(PL, admin, '', { ...pl.content, users }, parents);
        break;
      }
      case 4:
        add(TOPIC, user, '', { topic: `t${s.arg}` }, parents);
        break;
      case 5:
        add(JR, admin, '', { join_rule: s.arg % 3 === 0 ? 'public' : 'invite' }, parents);
        break;
      default:
        add(MEMBER, admin, user, { membership: 'invite' }, parents);
    }
  }
  return { store, states };
}
