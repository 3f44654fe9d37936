import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authEventTypesFor, checkAuthEvents } from '../src/auth-event-selection.ts';
import { ALICE, BOB, EVE, ev, lookup, makeRoom, rv } from './auth-fixtures.ts';

const sorted = (pairs: Array<[string, string]>) => pairs.map((p) => p.join('|')).sort();

test('create events select nothing', () => {
  assert.deepEqual(authEventTypesFor(rv('1'), { type: 'm.room.create', state_key: '', sender: ALICE, content: {} }), []);
});

test('a message selects create (before v12), power levels and the sender member', () => {
  const msg = { type: 'm.room.message', sender: BOB, content: {} };
  assert.deepEqual(sorted(authEventTypesFor(rv('11'), msg)), [`m.room.create|`, `m.room.member|${BOB}`, 'm.room.power_levels|']);
  assert.deepEqual(sorted(authEventTypesFor(rv('12'), msg)), [`m.room.member|${BOB}`, 'm.room.power_levels|']);
});

test('membership selection per membership and version', () => {
  const m = (membership: string, extra = {}, sender = EVE) => ({
    type: 'm.room.member',
    state_key: EVE,
    sender,
    content: { membership, ...extra },
  });
  // Self-join: sender and target coincide, listed once.
  assert.deepEqual(sorted(authEventTypesFor(rv('3'), m('join'))), [
    'm.room.create|',
    'm.room.join_rules|',
    `m.room.member|${EVE}`,
    'm.room.power_levels|',
  ]);
  assert.deepEqual(sorted(authEventTypesFor(rv('3'), m('leave', {}, BOB))), [
    'm.room.create|',
    `m.room.member|${BOB}`,
    `m.room.member|${EVE}`,
    'm.room.power_levels|',
  ]);
  const tpi = { third_party_invite: { signed: { mxid: EVE, token: 'abc', signatures: {} } } };
  assert.ok(sorted(authEventTypesFor(rv('5'), m('invite', tpi, BOB))).includes('m.room.third_party_invite|abc'));
  assert.ok(!sorted(authEventTypesFor(rv('5'), m('invite', { third_party_invite: 'x' }, BOB))).some((s) => s.startsWith('m.room.third')));
  const via = { join_authorised_via_users_server: ALICE };
  assert.ok(sorted(authEventTypesFor(rv('8'), m('join', via))).includes(`m.room.member|${ALICE}`));
  assert.ok(!sorted(authEventTypesFor(rv('7'), m('join', via))).includes(`m.room.member|${ALICE}`));
  assert.ok(sorted(authEventTypesFor(rv('7'), m('knock'))).includes('m.room.join_rules|'));
  assert.ok(!sorted(authEventTypesFor(rv('12'), m('knock'))).includes('m.room.create|'));
  assert.ok(!sorted(authEventTypesFor(rv('10'), m('ban', {}, BOB))).includes('m.room.join_rules|'));
});

test('checkAuthEvents accepts a proper auth_events list', () => {
  for (const id of ['1', '11', '12']) {
    const v = rv(id);
    const room = makeRoom(v);
    const state = lookup(room);
    const event = ev(room, 'm.room.message', BOB, { body: 'x' });
    const auth = authEventTypesFor(v, event).map(([t, k]) => state(t, k)!);
    assert.deepEqual(checkAuthEvents(v, event, auth), { allowed: true }, `v${id}`);
  }
});

test('checkAuthEvents rejects bad auth_events lists', () => {
  for (const id of ['1', '11', '12']) {
    const v = rv(id);
    const room = makeRoom(v);
    const state = lookup(room);
    const event = ev(room, 'm.room.message', BOB, { body: 'x' });
    const good = authEventTypesFor(v, event).map(([t, k]) => state(t, k)!);
    const pl = state('m.room.power_levels', '')!;
    const bad = {
      duplicate: [...good, { ...pl, event_id: '$pl2:a.org' }],
      unselected: [...good, state('m.room.join_rules', '')!],
      otherMember: [...good, state('m.room.member', ALICE)!],
      rejected: good.map((e) => (e === pl ? { ...e, rejected: true } : e)),
      foreign: good.map((e) => (e === pl ? { ...e, room_id: '!elsewhere:a.org' } : e)),
      notState: [...good.filter((e) => e !== pl), { ...pl, state_key: undefined }],
      createIssue: v.roomIdFromCreateEvent ? [...good, room.create] : good.filter((e) => e.type !== 'm.room.create'),
    };
    for (const [name, list] of Object.entries(bad)) {
      const res = checkAuthEvents(v, event, list);
      assert.equal(res.allowed, false, `v${id} ${name}`);
    }
  }
});
