import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '@hs/core';
import { checkRedactionAllowed, redactEvent, redactsOf, serverNameOf } from '../src/redaction.ts';
import { getRoomVersion, ROOM_VERSIONS } from '../src/room-versions.ts';
import type { RoomVersion } from '../src/room-versions.ts';
import type { EventView } from '../src/types.ts';

const rv = (id: string): RoomVersion => getRoomVersion(id)!;

/** Every top-level key any version keeps, plus junk. */
const TOP: JsonObject = {
  event_id: '$e:x',
  type: 'm.room.message',
  room_id: '!r:x',
  sender: '@u:x',
  state_key: 's',
  hashes: { sha256: 'h', other: 'o' },
  signatures: { x: { 'ed25519:1': 's' } },
  depth: 4,
  prev_events: [],
  prev_state: [],
  auth_events: [],
  origin: 'x',
  origin_server_ts: 7,
  membership: 'join',
  redacts: '$t',
  unsigned: { age: 1 },
  junk: true,
};

const V1_TOP = [
  'auth_events', 'content', 'depth', 'event_id', 'hashes', 'membership', 'origin', 'origin_server_ts',
  'prev_events', 'prev_state', 'room_id', 'sender', 'signatures', 'state_key', 'type',
];
const V11_TOP = [
  'auth_events', 'content', 'depth', 'event_id', 'hashes', 'origin_server_ts', 'prev_events', 'room_id',
  'sender', 'signatures', 'state_key', 'type',
];

test('top-level keys per version', () => {
  for (const v of ROOM_VERSIONS.values()) {
    const out = redactEvent<JsonObject>({ ...TOP, content: { body: 'x' } }, v);
    const expected = v.redaction === 'v11' ? V11_TOP : V1_TOP;
    assert.deepEqual(Object.keys(out).sort(), expected, `room v${v.id}`);
    assert.deepEqual(out.content, {});
    assert.deepEqual(out.hashes, { sha256: 'h', other: 'o' });
  }
});

/** Content with every key any redaction list mentions, plus junk. */
const EVERYTHING: JsonObject = {
  membership: 'join',
  join_authorised_via_users_server: '@a:x',
  third_party_invite: { signed: { mxid: '@a:x' }, display_name: 'A' },
  creator: '@u:x',
  room_version: '1',
  'm.federate': false,
  additional_creators: ['@b:y'],
  join_rule: 'restricted',
  allow: [{ type: 'm.room_membership', room_id: '!o:x' }],
  ban: 50,
  events: { 'm.room.name': 50 },
  events_default: 0,
  invite: 0,
  kick: 50,
  redact: 50,
  state_default: 50,
  users: { '@u:x': 100 },
  users_default: 0,
  notifications: { room: 50 },
  aliases: ['#a:x'],
  history_visibility: 'shared',
  redacts: '$t',
  body: 'junk',
};

const PL_V1 = ['ban', 'events', 'events_default', 'kick', 'redact', 'state_default', 'users', 'users_default'];

/** The expected kept content keys, straight from the spec fragments. */
const EXPECTED: Record<string, Record<string, string[] | 'all'>> = {
  v1: {
    'm.room.member': ['membership'],
    'm.room.create': ['creator'],
    'm.room.join_rules': ['join_rule'],
    'm.room.power_levels': PL_V1,
    'm.room.aliases': ['aliases'],
    'm.room.history_visibility': ['history_visibility'],
    'm.room.redaction': [],
    'm.room.message': [],
  },
  v6: {
    'm.room.member': ['membership'],
    'm.room.create': ['creator'],
    'm.room.join_rules': ['join_rule'],
    'm.room.power_levels': PL_V1,
    'm.room.aliases': [],
    'm.room.history_visibility': ['history_visibility'],
    'm.room.redaction': [],
  },
  v8: {
    'm.room.member': ['membership'],
    'm.room.create': ['creator'],
    'm.room.join_rules': ['allow', 'join_rule'],
    'm.room.power_levels': PL_V1,
    'm.room.aliases': [],
  },
  v9: {
    'm.room.member': ['join_authorised_via_users_server', 'membership'],
    'm.room.create': ['creator'],
    'm.room.join_rules': ['allow', 'join_rule'],
    'm.room.power_levels': PL_V1,
    'm.room.aliases': [],
    'm.room.redaction': [],
  },
  v11: {
    'm.room.member': ['join_authorised_via_users_server', 'membership', 'third_party_invite'],
    'm.room.create': 'all',
    'm.room.join_rules': ['allow', 'join_rule'],
    'm.room.power_levels': [...PL_V1, 'invite'].sort(),
    'm.room.aliases': [],
    'm.room.history_visibility': ['history_visibility'],
    'm.room.redaction': ['redacts'],
    'm.room.message': [],
  },
};

const FAMILY: Record<string, string[]> = {
  v1: ['1', '2', '3', '4', '5'],
  v6: ['6', '7'],
  v8: ['8'],
  v9: ['9', '10'],
  v11: ['11', '12'],
};

test('content keys per event type and version family', () => {
  for (const [family, ids] of Object.entries(FAMILY)) {
    for (const id of ids) {
      assert.equal(rv(id).redaction, family, `room v${id} uses ${family}`);
      for (const [type, keys] of Object.entries(EXPECTED[family]!)) {
        const out = redactEvent({ type, content: EVERYTHING }, rv(id));
        const expected = keys === 'all' ? Object.keys(EVERYTHING).sort() : keys;
        assert.deepEqual(Object.keys(out.content as JsonObject).sort(), expected, `v${id} ${type}`);
      }
    }
  }
  // v11 member keeps only `signed` of third_party_invite.
  const member = redactEvent({ type: 'm.room.member', content: EVERYTHING }, rv('11'));
  assert.deepEqual((member.content as JsonObject).third_party_invite, { signed: { mxid: '@a:x' } });
});

test('odd content: non-objects, third_party_invite shapes, __proto__', () => {
  for (const content of [[], 'x', null, 5, undefined]) {
    assert.deepEqual(redactEvent<JsonObject>({ type: 'm.room.member', content } as JsonObject, rv('11')).content, {});
  }
  assert.deepEqual(redactEvent({ type: 'm.room.member', content: {} }, rv('1')), { type: 'm.room.member', content: {} });
  const tpi = (third_party_invite: unknown) =>
    (redactEvent<JsonObject>({ type: 'm.room.member', content: { membership: 'invite', third_party_invite } } as JsonObject, rv('12'))
      .content as JsonObject).third_party_invite;
  assert.deepEqual(tpi({ display_name: 'x' }), {});
  assert.deepEqual(tpi({ signed: null }), { signed: null });
  assert.deepEqual(tpi({ signed: 'str' }), { signed: 'str' });
  assert.equal(tpi('str'), undefined);
  assert.equal(tpi([1]), undefined);
  // v1–10 drops third_party_invite altogether.
  const v10 = redactEvent({ type: 'm.room.member', content: { membership: 'invite', third_party_invite: { signed: {} } } }, rv('10'));
  assert.deepEqual(v10.content, { membership: 'invite' });
  // A __proto__ key in create content survives as data in v11 and never touches prototypes.
  const content = JSON.parse('{"__proto__":{"x":1},"room_version":"11"}') as JsonObject;
  const create = redactEvent({ type: 'm.room.create', content }, rv('11'));
  assert.ok(Object.hasOwn(create.content as object, '__proto__'));
  assert.equal(Object.getPrototypeOf(create.content), Object.prototype);
  // Own properties only: inherited names are not "present".
  const inherited = Object.create({ membership: 'join' }) as JsonObject;
  assert.deepEqual(redactEvent({ type: 'm.room.member', content: inherited }, rv('1')).content, {});
  assert.deepEqual(redactEvent({ type: 'toString', content: { a: 1 } }, rv('1')).content, {});
});

test('does not mutate its input', () => {
  const ev = { ...TOP, type: 'm.room.member', content: { ...EVERYTHING } };
  const before = JSON.stringify(ev);
  redactEvent(ev, rv('11'));
  redactEvent(ev, rv('1'));
  assert.equal(JSON.stringify(ev), before);
});

test('redactsOf and serverNameOf', () => {
  assert.equal(redactsOf({ redacts: '$a', content: { redacts: '$b' } }, rv('10')), '$a');
  assert.equal(redactsOf({ redacts: '$a', content: { redacts: '$b' } }, rv('11')), '$b');
  assert.equal(redactsOf({ content: { redacts: 5 } }, rv('11')), undefined);
  assert.equal(serverNameOf('@u:example.org:8448'), 'example.org:8448');
  assert.equal(serverNameOf('$abc'), undefined);
});

function view(id: string, sender: string, extra: Partial<EventView> = {}): EventView {
  return {
    event_id: id,
    room_id: '!r:x',
    type: 'm.room.message',
    sender,
    content: {},
    origin_server_ts: 0,
    depth: 1,
    auth_events: [],
    prev_events: [],
    ...extra,
  };
}

test('applying a received redaction (v3+: same server or redact power)', () => {
  const target = view('$target', '@victim:a.org');
  const same = view('$r1', '@mod:a.org', { type: 'm.room.redaction', redacts: '$target' });
  const foreign = view('$r2', '@mod:b.org', { type: 'm.room.redaction', redacts: '$target' });
  for (const id of ['3', '10', '11', '12']) {
    let asked = 0;
    const power = () => {
      asked++;
      return false;
    };
    assert.deepEqual(checkRedactionAllowed(same, target, rv(id), power), { apply: true, reason: 'same_server' });
    assert.equal(asked, 0, 'power not consulted when servers match');
    assert.deepEqual(checkRedactionAllowed(foreign, target, rv(id), power), { apply: false, reason: 'not_permitted' });
    assert.deepEqual(checkRedactionAllowed(foreign, target, rv(id), true), { apply: true, reason: 'power' });
  }
  assert.equal(checkRedactionAllowed(view('$r', '@m:a.org'), target, rv('10'), true).apply, false);
  const wrongTarget = view('$r', '@m:a.org', { type: 'm.room.redaction', redacts: '$else' });
  assert.deepEqual(checkRedactionAllowed(wrongTarget, target, rv('10'), true), { apply: false, reason: 'wrong_target' });
  const otherRoom = view('$r', '@m:a.org', { type: 'm.room.redaction', redacts: '$target', room_id: '!o:x' });
  assert.deepEqual(checkRedactionAllowed(otherRoom, target, rv('10'), true), { apply: false, reason: 'wrong_room' });
});

test('applying a redaction in v1–2 compares event ID domains', () => {
  const target = view('$t:a.org', '@victim:b.org');
  const redaction = view('$r:a.org', '@mod:c.org', { type: 'm.room.redaction', redacts: '$t:a.org' });
  assert.deepEqual(checkRedactionAllowed(redaction, target, rv('1'), false), { apply: true, reason: 'same_server' });
  const other = view('$r:c.org', '@mod:b.org', { type: 'm.room.redaction', redacts: '$t:a.org' });
  assert.deepEqual(checkRedactionAllowed(other, target, rv('2'), false), { apply: false, reason: 'not_permitted' });
});
