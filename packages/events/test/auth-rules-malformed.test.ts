import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { JsonObject, JsonValue } from '@hs/core';
import { checkAuthRules } from '../src/auth-rules.ts';
import { authEventTypesFor, checkAuthEvents } from '../src/auth-event-selection.ts';
import { senderPowerLevel } from '../src/auth-power-levels.ts';
import { ALICE, ALL_VERSIONS, BOB, EVE, ev, lookup, makeRoom, put } from './auth-fixtures.ts';

const value: fc.Arbitrary<JsonValue> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom('50', ' -3 ', 'x', '', '1e3', BOB, ALICE, 'public', 'restricted', 'join', 'invite', 'knock', 'ban'),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.constantFrom(BOB, 1, 'x')),
  fc.dictionary(fc.constantFrom(BOB, EVE, 'x', 'm.room.name', 'room'), fc.oneof(fc.integer(), fc.string(), fc.constant(null))),
);
const keys = [
  'membership', 'join_rule', 'users', 'users_default', 'events', 'events_default', 'state_default', 'ban', 'kick',
  'invite', 'redact', 'notifications', 'third_party_invite', 'join_authorised_via_users_server', 'creator',
  'room_version', 'additional_creators', 'm.federate', 'public_key', 'public_keys', 'allow',
];
const content: fc.Arbitrary<JsonObject> = fc.dictionary(fc.constantFrom(...keys), value, { maxKeys: 6 });
const types = ['m.room.create', 'm.room.member', 'm.room.power_levels', 'm.room.join_rules', 'm.room.third_party_invite',
  'm.room.redaction', 'm.room.aliases', 'm.room.message'];

test('malformed content in the event or in the auth state never throws', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...ALL_VERSIONS),
      fc.constantFrom(...types),
      content,
      fc.option(fc.constantFrom('', EVE, BOB, 'tok', 'e.org'), { nil: undefined }),
      fc.constantFrom('m.room.create', 'm.room.power_levels', 'm.room.join_rules', 'm.room.member'),
      content,
      (v, type, c, stateKey, stateType, stateContent) => {
        const room = makeRoom(v);
        const key = stateType === 'm.room.member' ? EVE : '';
        const stored =
          stateType === 'm.room.create'
            ? { ...room.create, content: stateContent }
            : ev(room, stateType, ALICE, stateContent, key);
        put(room, stored);
        const event = ev(room, type, EVE, c, stateKey);
        const res = checkAuthRules(v, event, lookup(room));
        assert.equal(typeof res.allowed, 'boolean');
        if (!res.allowed) assert.equal(typeof res.reason, 'string');
        authEventTypesFor(v, event);
        checkAuthEvents(v, event, [...room.state.values()]);
        assert.equal(typeof senderPowerLevel(v, EVE, lookup(room)), 'number');
      },
    ),
    { numRuns: 1500, seed: 42 },
  );
});
