import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '@hs/core';
import type { RoomVersion } from '../src/room-versions.ts';
import { senderPowerLevel, parsePowerLevel } from '../src/auth-power-levels.ts';
import type { AuthCase } from './auth-fixtures.ts';
import { ALICE, ALL_VERSIONS, BOB, CAROL, DAVE, EVE, ZED, defaultPl, ev, lookup, makeRoom, rv } from './auth-fixtures.ts';
import { runAuthTable } from './auth-table.ts';

/** BOB (level 50) sends new power levels built from the room's defaults. */
function plChange(sender: string, change: (v: RoomVersion, pl: JsonObject) => JsonObject, base?: (v: RoomVersion) => JsonObject) {
  return (v: RoomVersion) => {
    const start = base ? base(v) : defaultPl(v);
    const room = makeRoom(v, { pl: start });
    const content = change(v, structuredClone(start));
    return { event: ev(room, 'm.room.power_levels', sender, content, ''), state: lookup(room) };
  };
}
const withUsers = (pl: JsonObject, users: JsonObject) => ({ ...pl, users: { ...(pl['users'] as JsonObject), ...users } });

const plCases: AuthCase[] = [
  {
    name: 'first power levels event',
    expect: 'allow',
    build: (v) => {
      const room = makeRoom(v, { pl: null });
      return { event: ev(room, 'm.room.power_levels', ALICE, defaultPl(v), ''), state: lookup(room) };
    },
  },
  {
    name: 'first power levels event by a non-creator (state_default 50 applies)',
    expect: 'deny',
    build: (v) => {
      const room = makeRoom(v, { pl: null });
      return { event: ev(room, 'm.room.power_levels', BOB, defaultPl(v), ''), state: lookup(room) };
    },
  },
  {
    name: 'promote another user up to own level',
    expect: 'allow',
    build: plChange(BOB, (_v, pl) => withUsers(pl, { [CAROL]: 50 })),
  },
  {
    name: 'promote another user above own level',
    expect: 'deny',
    build: plChange(BOB, (_v, pl) => withUsers(pl, { [CAROL]: 51 })),
  },
  { name: 'raise own level', expect: 'deny', build: plChange(BOB, (_v, pl) => withUsers(pl, { [BOB]: 60 })) },
  { name: 'lower own level', expect: 'allow', build: plChange(BOB, (_v, pl) => withUsers(pl, { [BOB]: 10 })) },
  {
    name: 'demote a user at own level',
    reason: /cannot change users/,
    expect: 'deny',
    build: plChange(BOB, (_v, pl) => withUsers(pl, { [DAVE]: 0 })),
  },
  {
    name: 'remove a user at own level', reason: /cannot change users/,
    expect: 'deny',
    build: plChange(BOB, (_v, pl) => {
      delete (pl['users'] as JsonObject)[DAVE];
      return pl;
    }),
  },
  {
    name: 'demote a lower user',
    expect: 'allow',
    build: plChange(BOB, (_v, pl) => withUsers(pl, { [CAROL]: 0, [EVE]: 10 }), (v) => withUsers(defaultPl(v), { [EVE]: 20 })),
  },
  { name: 'lower the ban level', expect: 'allow', build: plChange(BOB, (_v, pl) => ({ ...pl, ban: 40 })) },
  { name: 'raise the ban level above own', expect: 'deny', build: plChange(BOB, (_v, pl) => ({ ...pl, ban: 60 })) },
  {
    name: 'change a level currently above own',
    expect: 'deny',
    build: plChange(BOB, (_v, pl) => ({ ...pl, kick: 50 }), (v) => defaultPl(v, { kick: 75 })),
  },
  {
    name: 'remove a level currently above own',
    expect: 'deny',
    build: plChange(
      BOB,
      (_v, pl) => {
        delete pl['redact'];
        return pl;
      },
      (v) => defaultPl(v, { redact: 75 }),
    ),
  },
  {
    name: 'add an events entry at own level',
    expect: 'allow',
    build: plChange(BOB, (_v, pl) => ({ ...pl, events: { ...(pl['events'] as JsonObject), 'm.room.topic': 50 } })),
  },
  {
    name: 'add an events entry above own level',
    expect: 'deny',
    build: plChange(BOB, (_v, pl) => ({ ...pl, events: { ...(pl['events'] as JsonObject), 'm.room.topic': 51 } })),
  },
  {
    name: 'change an events entry currently above own level',
    expect: 'deny',
    build: plChange(
      BOB,
      (_v, pl) => ({ ...pl, events: { ...(pl['events'] as JsonObject), 'm.room.tombstone': 0 } }),
      (v) => defaultPl(v, { events: { 'm.room.power_levels': 50, 'm.room.tombstone': 100 } }),
    ),
  },
  {
    name: 'change notifications currently above own level',
    expect: (v) => (v.limitNotificationsPowerLevels ? 'deny' : 'allow'),
    build: plChange(BOB, (_v, pl) => ({ ...pl, notifications: { room: 0 } }), (v) => defaultPl(v, { notifications: { room: 100 } })),
  },
  {
    name: 'set notifications above own level',
    expect: (v) => (v.limitNotificationsPowerLevels ? 'deny' : 'allow'),
    build: plChange(BOB, (_v, pl) => ({ ...pl, notifications: { room: 60 } })),
  },
  {
    name: 'set notifications at own level',
    expect: 'allow',
    build: plChange(BOB, (_v, pl) => ({ ...pl, notifications: { room: 50 } })),
  },
  {
    name: 'users value as a string',
    expect: (v) => (v.integerPowerLevels ? 'deny' : 'allow'),
    build: plChange(BOB, (_v, pl) => withUsers(pl, { [CAROL]: ' +0040 ' })),
  },
  {
    name: 'users value as a string above own level',
    when: (v) => !v.integerPowerLevels,
    expect: 'deny',
    build: plChange(BOB, (_v, pl) => withUsers(pl, { [CAROL]: '60' })),
  },
  {
    name: 'users value not an integer string',
    expect: 'deny',
    build: plChange(BOB, (_v, pl) => withUsers(pl, { [CAROL]: '4x' })),
  },
  {
    name: 'users value as a decimal string',
    expect: 'deny',
    build: plChange(BOB, (_v, pl) => withUsers(pl, { [CAROL]: '4.5' })),
  },
  {
    name: 'users value as a float',
    expect: (v) => (v.strictCanonicalJson ? 'deny' : 'allow'),
    build: plChange(BOB, (_v, pl) => withUsers(pl, { [CAROL]: 50.57 })),
  },
  {
    name: 'users value is a boolean',
    expect: 'deny',
    build: plChange(BOB, (_v, pl) => withUsers(pl, { [CAROL]: true })),
  },
  { name: 'users key is not a user ID', expect: 'deny', build: plChange(BOB, (_v, pl) => withUsers(pl, { carol: 0 })) },
  { name: 'users is not an object', expect: 'deny', build: plChange(BOB, (_v, pl) => ({ ...pl, users: [CAROL] })) },
  {
    name: 'ban as a string',
    expect: (v) => (v.integerPowerLevels ? 'deny' : 'allow'),
    build: plChange(BOB, (_v, pl) => ({ ...pl, ban: '50' })),
  },
  {
    name: 'events value as a string',
    expect: (v) => (v.integerPowerLevels ? 'deny' : 'allow'),
    build: plChange(BOB, (_v, pl) => ({ ...pl, events: { 'm.room.power_levels': '50', 'm.room.name': 50 } })),
  },
  {
    name: 'notifications value as a string',
    expect: (v) => (v.integerPowerLevels ? 'deny' : 'allow'),
    build: plChange(BOB, (_v, pl) => ({ ...pl, notifications: { room: '50' } })),
  },
  { name: 'events is not an object', expect: 'deny', build: plChange(BOB, (_v, pl) => ({ ...pl, events: 5 })) },
  { name: 'state_default is null', expect: 'deny', build: plChange(BOB, (_v, pl) => ({ ...pl, state_default: null })) },
  {
    name: 'v12: creator listed in users', reason: /room creator/,
    when: (v) => v.privilegedCreators,
    expect: 'deny',
    build: plChange(ALICE, (_v, pl) => withUsers(pl, { [ALICE]: 100 })),
  },
  {
    name: 'v12: additional creator listed in users', reason: /room creator/,
    when: (v) => v.privilegedCreators,
    expect: 'deny',
    build: (v) => {
      const room = makeRoom(v, { createContent: { additional_creators: [ZED] } });
      const content = withUsers(defaultPl(v), { [ZED]: 0 });
      return { event: ev(room, 'm.room.power_levels', ALICE, content, ''), state: lookup(room) };
    },
  },
  {
    name: 'creator sets a level of 1000 (infinite power only in v12)',
    expect: (v) => (v.privilegedCreators ? 'allow' : 'deny'),
    build: plChange(ALICE, (_v, pl) => withUsers(pl, { [CAROL]: 1000 })),
  },
  {
    name: 'creator with 100 in users lists themselves (pre-v12)',
    when: (v) => !v.privilegedCreators,
    expect: 'allow',
    build: plChange(ALICE, (_v, pl) => withUsers(pl, { [ALICE]: 100 })),
  },
];
runAuthTable('m.room.power_levels', plCases);

/** Non-membership events after the member rules. */
const eventCases: AuthCase[] = [
  {
    name: 'message from a joined user',
    expect: 'allow',
    build: (v) => {
      const room = makeRoom(v);
      return { event: ev(room, 'm.room.message', CAROL, { body: 'x' }), state: lookup(room) };
    },
  },
  {
    name: 'message from a non-member',
    expect: 'deny',
    build: (v) => {
      const room = makeRoom(v);
      return { event: ev(room, 'm.room.message', EVE, { body: 'x' }), state: lookup(room) };
    },
  },
  {
    name: 'message from an invited user',
    expect: 'deny',
    build: (v) => {
      const room = makeRoom(v, { members: { [ALICE]: 'join', [EVE]: 'invite' } });
      return { event: ev(room, 'm.room.message', EVE, { body: 'x' }), state: lookup(room) };
    },
  },
  {
    name: 'message below events_default',
    expect: 'deny',
    build: (v) => {
      const room = makeRoom(v, { pl: defaultPl(v, { events_default: 10 }) });
      return { event: ev(room, 'm.room.message', CAROL, { body: 'x' }), state: lookup(room) };
    },
  },
  {
    name: 'message type overridden in events',
    expect: 'allow',
    build: (v) => {
      const room = makeRoom(v, { pl: defaultPl(v, { events_default: 10, events: { 'm.room.message': 0 } }) });
      return { event: ev(room, 'm.room.message', CAROL, { body: 'x' }), state: lookup(room) };
    },
  },
  {
    name: 'state event below state_default',
    expect: 'deny',
    build: (v) => {
      const room = makeRoom(v);
      return { event: ev(room, 'm.room.topic', CAROL, { topic: 't' }, ''), state: lookup(room) };
    },
  },
  {
    name: 'state event at state_default',
    expect: 'allow',
    build: (v) => {
      const room = makeRoom(v);
      return { event: ev(room, 'm.room.topic', BOB, { topic: 't' }, ''), state: lookup(room) };
    },
  },
  {
    name: 'state event with stringy state_default in the current power levels',
    when: (v) => !v.integerPowerLevels,
    expect: 'deny',
    build: (v) => {
      const room = makeRoom(v, { pl: defaultPl(v, { state_default: ' 60 ' }) });
      return { event: ev(room, 'm.room.topic', BOB, { topic: 't' }, ''), state: lookup(room) };
    },
  },
  {
    name: 'state event, no power levels: non-creator',
    expect: 'deny',
    build: (v) => {
      const room = makeRoom(v, { pl: null });
      return { event: ev(room, 'm.room.topic', BOB, { topic: 't' }, ''), state: lookup(room) };
    },
  },
  {
    name: 'state event, no power levels: creator',
    expect: 'allow',
    build: (v) => {
      const room = makeRoom(v, { pl: null });
      return { event: ev(room, 'm.room.topic', ALICE, { topic: 't' }, ''), state: lookup(room) };
    },
  },
  {
    name: 'state_key starting with @ that is the sender',
    expect: 'allow',
    build: (v) => {
      const room = makeRoom(v);
      return { event: ev(room, 'org.example.profile', BOB, {}, BOB), state: lookup(room) };
    },
  },
  {
    name: 'state_key starting with @ that is not the sender', reason: /state_key/,
    expect: 'deny',
    build: (v) => {
      const room = makeRoom(v);
      return { event: ev(room, 'org.example.profile', BOB, {}, CAROL), state: lookup(room) };
    },
  },
  {
    name: 'm.room.third_party_invite at the invite level',
    expect: 'allow',
    build: (v) => {
      const room = makeRoom(v);
      return { event: ev(room, 'm.room.third_party_invite', CAROL, { display_name: 'x' }, 'tok'), state: lookup(room) };
    },
  },
  {
    name: 'm.room.third_party_invite below the invite level',
    expect: 'deny',
    build: (v) => {
      const room = makeRoom(v, { pl: defaultPl(v, { invite: 10 }) });
      return { event: ev(room, 'm.room.third_party_invite', CAROL, { display_name: 'x' }, 'tok'), state: lookup(room) };
    },
  },
  {
    name: 'm.room.third_party_invite from a non-member',
    expect: 'deny',
    build: (v) => {
      const room = makeRoom(v);
      return { event: ev(room, 'm.room.third_party_invite', EVE, { display_name: 'x' }, 'tok'), state: lookup(room) };
    },
  },
];
runAuthTable('event levels, state keys, third-party invite events', eventCases);

const aliasCases: AuthCase[] = [
  {
    name: 'm.room.aliases from a non-member for their own server',
    expect: (v) => (v.specialCaseAliasesAuth ? 'allow' : 'deny'),
    build: (v) => {
      const room = makeRoom(v);
      return { event: ev(room, 'm.room.aliases', EVE, { aliases: ['#x:e.org'] }, 'e.org'), state: lookup(room) };
    },
  },
  {
    name: 'm.room.aliases for another server (a plain state event from v6)',
    expect: (v) => (v.specialCaseAliasesAuth ? 'deny' : 'allow'),
    build: (v) => {
      const room = makeRoom(v);
      return { event: ev(room, 'm.room.aliases', BOB, { aliases: ['#x:a.org'] }, 'a.org'), state: lookup(room) };
    },
  },
  {
    name: 'm.room.aliases without state_key', reason: /without state_key/,
    when: (v) => v.specialCaseAliasesAuth,
    expect: 'deny',
    build: (v) => {
      const room = makeRoom(v);
      return { event: ev(room, 'm.room.aliases', BOB, { aliases: [] }), state: lookup(room) };
    },
  },
  {
    name: 'm.room.aliases below state_default (only checked from v6)',
    expect: (v) => (v.specialCaseAliasesAuth ? 'allow' : 'deny'),
    build: (v) => {
      const room = makeRoom(v);
      return { event: ev(room, 'm.room.aliases', CAROL, { aliases: [] }, 'c.org'), state: lookup(room) };
    },
  },
  {
    name: 'm.room.aliases by a joined moderator for their server',
    expect: 'allow',
    build: (v) => {
      const room = makeRoom(v);
      return { event: ev(room, 'm.room.aliases', BOB, { aliases: [] }, 'b.org'), state: lookup(room) };
    },
  },
];
runAuthTable('m.room.aliases', aliasCases);

const redactionCases: AuthCase[] = [
  {
    name: 'redaction by a user at the redact level',
    expect: 'allow',
    build: (v) => {
      const room = makeRoom(v);
      return { event: ev(room, 'm.room.redaction', BOB, {}, undefined, { redacts: '$x:e.org' }), state: lookup(room) };
    },
  },
  {
    name: 'redaction below the redact level of an event from the same server',
    expect: 'allow',
    build: (v) => {
      const room = makeRoom(v);
      return { event: ev(room, 'm.room.redaction', CAROL, {}, undefined, { redacts: '$x:c.org' }), state: lookup(room) };
    },
  },
  {
    name: 'redaction below the redact level of another server’s event (only checked in v1–2)', reason: /redact level/,
    expect: (v) => (v.redactionAuthRule ? 'deny' : 'allow'),
    build: (v) => {
      const room = makeRoom(v);
      return { event: ev(room, 'm.room.redaction', CAROL, {}, undefined, { redacts: '$x:e.org' }), state: lookup(room) };
    },
  },
  {
    name: 'redaction without redacts below the redact level',
    expect: (v) => (v.redactionAuthRule ? 'deny' : 'allow'),
    build: (v) => {
      const room = makeRoom(v);
      return { event: ev(room, 'm.room.redaction', CAROL, {}), state: lookup(room) };
    },
  },
  {
    name: 'redaction below an events level for m.room.redaction',
    expect: 'deny',
    build: (v) => {
      const room = makeRoom(v, { pl: defaultPl(v, { events: { 'm.room.redaction': 10 } }) });
      return { event: ev(room, 'm.room.redaction', CAROL, {}, undefined, { redacts: '$x:c.org' }), state: lookup(room) };
    },
  },
];
runAuthTable('m.room.redaction', redactionCases);

test('parsePowerLevel follows the per-version formats', () => {
  const cases: Array<[string, unknown, number | undefined]> = [
    ['1', 50, 50],
    ['1', '  +0100 ', 100],
    ['1', '-7', -7],
    ['1', '1.5', undefined],
    ['1', '', undefined],
    ['1', 5.114698e4, 51146],
    ['1', -3.9, -3],
    ['5', 50.57, 50],
    ['6', 50.57, undefined],
    ['9', '100', 100],
    ['10', '100', undefined],
    ['10', 100, 100],
    ['12', true, undefined],
    ['12', null, undefined],
  ];
  for (const [id, value, want] of cases) {
    assert.equal(parsePowerLevel(rv(id), value as never), want, `v${id} ${JSON.stringify(value)}`);
  }
});

test('senderPowerLevel: defaults, stringy values, creators', () => {
  for (const v of ALL_VERSIONS) {
    const noPl = makeRoom(v, { pl: null });
    assert.equal(senderPowerLevel(v, ALICE, lookup(noPl)), v.privilegedCreators ? Infinity : 100, `v${v.id} creator`);
    assert.equal(senderPowerLevel(v, BOB, lookup(noPl)), 0);
    const room = makeRoom(v, { pl: defaultPl(v, { users_default: 5, users: { [BOB]: '42' } }) });
    assert.equal(senderPowerLevel(v, EVE, lookup(room)), 5);
    assert.equal(senderPowerLevel(v, BOB, lookup(room)), v.integerPowerLevels ? 5 : 42);
    assert.equal(senderPowerLevel(v, ALICE, lookup(room)), v.privilegedCreators ? Infinity : 5);
  }
  const v12 = rv('12');
  const room = makeRoom(v12, { createContent: { additional_creators: [ZED] } });
  assert.equal(senderPowerLevel(v12, ZED, lookup(room)), Infinity);
  assert.equal(senderPowerLevel(rv('11'), ZED, lookup(makeRoom(rv('11'), { createContent: { additional_creators: [ZED] } }))), 0);
});
