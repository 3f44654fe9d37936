/** GET /_matrix/client/v1/room_summary/{roomIdOrAlias}: who sees what, what it says, and bad input. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { C, C1, SERVER, enc, startHarness, user } from './harness.ts';
import type { Harness } from './harness.ts';
import { assertResponseShape, specPresent } from '../../../e2e/support/openapi.ts';

const alice = user('alice');
const bob = user('bob');
const carol = user('carol');
const dave = user('dave');

const summary = (target: string, query = '') => `${C1}/room_summary/${enc(target)}${query}`;

let h: Harness;
test.before(async () => {
  h = await startHarness();
});
test.after(() => h.close());

test('room_summary: a public space, by ID and by alias, for anyone', async () => {
  const roomId = await h.createRoom(alice, {
    preset: 'public_chat',
    name: 'Cheese',
    room_alias_name: 'cheese',
    creation_content: { type: 'm.space' },
    initial_state: [
      { type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } },
      { type: 'm.room.guest_access', state_key: '', content: { guest_access: 'can_join' } },
    ],
  });
  await h.state(alice, roomId, 'm.room.avatar', { url: 'mxc://test.local/cheddar' });
  await h.state(alice, roomId, 'm.room.topic', {
    topic: 'fallback',
    'm.topic': { 'm.text': [{ mimetype: 'text/html', body: '<b>Tasty</b>' }, { body: 'Tasty' }] },
  });
  await h.member(bob, roomId, 'join');

  const anon = await h.ok(undefined, 'GET', summary(roomId));
  assert.deepEqual(anon, {
    room_id: roomId,
    num_joined_members: 2,
    world_readable: false,
    guest_can_join: true,
    room_version: '12',
    name: 'Cheese',
    topic: 'Tasty',
    avatar_url: 'mxc://test.local/cheddar',
    canonical_alias: `#cheese:${SERVER}`,
    join_rule: 'public',
    room_type: 'm.space',
    encryption: 'm.megolm.v1.aes-sha2',
  });
  // Signed in: the same summary plus the requester's membership (`leave` for strangers, as Synapse).
  assert.deepEqual(await h.ok(bob, 'GET', summary(roomId)), { ...anon, membership: 'join' });
  assert.deepEqual(await h.ok(carol, 'GET', summary(`#cheese:${SERVER}`)), { ...anon, membership: 'leave' });
  assert.equal((await h.ok(`guest:${dave}`, 'GET', summary(roomId))).membership, 'leave', 'guests may ask too');
  // `via` is accepted (there is no federation to use it with).
  assert.equal((await h.ok(carol, 'GET', summary(roomId, '?via=matrix.org&via=elsewhere.ca'))).room_id, roomId);
  // A header that is no bearer token counts as no token; a bad token is refused.
  const basic = await fetch(h.app.baseUrl + summary(roomId), { headers: { authorization: 'Basic Zm9vOmJhcg==' } });
  assert.equal(basic.status, 200);
  assert.equal(((await basic.json()) as { membership?: string }).membership, undefined);
  const bogus = await h.call('bogus', 'GET', summary(roomId));
  assert.deepEqual([bogus.status, bogus.json.errcode], [401, 'M_UNKNOWN_TOKEN']);

  // Redacted state reads as pruned: the name disappears.
  const nameEvent = await h.state(alice, roomId, 'm.room.name', { name: 'Brie' });
  assert.equal((await h.ok(undefined, 'GET', summary(roomId))).name, 'Brie');
  await h.ok(alice, 'PUT', `${C}/rooms/${enc(roomId)}/redact/${enc(nameEvent)}/red1`, {});
  assert.equal((await h.ok(undefined, 'GET', summary(roomId))).name, undefined);

  if (specPresent('room-api room_summary', 'room_summary.yaml')) {
    for (const token of [undefined, bob, carol]) {
      const r = await h.call(token, 'GET', summary(roomId));
      assertResponseShape('room_summary.yaml', '/room_summary/{roomIdOrAlias}', 'get', r.status, r.json);
    }
    const missing = await h.call(undefined, 'GET', summary(`!nowhere:${SERVER}`));
    assertResponseShape('room_summary.yaml', '/room_summary/{roomIdOrAlias}', 'get', missing.status, missing.json);
  }
});

test('room_summary: private rooms only for members and invitees; 404 for everyone else', async () => {
  const roomId = await h.createRoom(alice, { preset: 'private_chat', name: 'Secret' });
  await h.member(alice, roomId, 'invite', bob);
  await h.member(alice, roomId, 'invite', carol);
  await h.member(carol, roomId, 'join');

  const hidden = async (token: string | undefined, what: string) => {
    const r = await h.call(token, 'GET', summary(roomId));
    assert.deepEqual([r.status, r.json.errcode], [404, 'M_NOT_FOUND'], what);
  };
  await hidden(undefined, 'unauthenticated');
  await hidden(dave, 'a stranger');
  const invited = await h.ok(bob, 'GET', summary(roomId));
  assert.equal(invited.membership, 'invite');
  assert.equal(invited.name, 'Secret');
  assert.equal(invited.join_rule, 'invite');
  assert.equal(invited.num_joined_members, 2);
  assert.equal((await h.ok(carol, 'GET', summary(roomId))).membership, 'join');

  await h.member(carol, roomId, 'leave');
  await hidden(carol, 'after leaving');
  await h.member(alice, roomId, 'ban', bob);
  await hidden(bob, 'banned');

  // world_readable makes it visible to anyone, signed in or not.
  await h.state(alice, roomId, 'm.room.history_visibility', { history_visibility: 'world_readable' });
  const open = await h.ok(undefined, 'GET', summary(roomId));
  assert.equal(open.world_readable, true);
  assert.equal(open.num_joined_members, 1);
  assert.equal((await h.ok(bob, 'GET', summary(roomId))).membership, 'ban');
});

test('room_summary: knock rooms are open to all; restricted rooms to members of an allowed room', async () => {
  const knock = await h.createRoom(alice, { preset: 'private_chat' });
  await h.state(alice, knock, 'm.room.join_rules', { join_rule: 'knock' });
  assert.equal((await h.ok(undefined, 'GET', summary(knock))).join_rule, 'knock');

  const space = await h.createRoom(alice, { preset: 'private_chat' });
  await h.member(alice, space, 'invite', bob);
  await h.member(bob, space, 'join');
  const restricted = await h.createRoom(alice, { preset: 'private_chat' });
  await h.state(alice, restricted, 'm.room.join_rules', {
    join_rule: 'restricted',
    allow: [{ type: 'm.room_membership', room_id: space }, { type: 'm.room_membership', room_id: space }, { type: 'org.example', room_id: '!x:y' }],
  });
  const seen = await h.ok(bob, 'GET', summary(restricted));
  assert.deepEqual([seen.join_rule, seen.allowed_room_ids, seen.membership], ['restricted', [space], 'leave']);
  assert.equal((await h.call(carol, 'GET', summary(restricted))).status, 404, 'not in an allowed room');
  assert.equal((await h.call(undefined, 'GET', summary(restricted))).status, 404);

  // knock_restricted: anyone may knock, so anyone sees it, with the allowed rooms.
  await h.state(alice, restricted, 'm.room.join_rules', { join_rule: 'knock_restricted', allow: [{ type: 'm.room_membership', room_id: space }] });
  assert.deepEqual((await h.ok(undefined, 'GET', summary(restricted))).allowed_room_ids, [space]);

  // Room version 6 has no knocking: its `knock` join rule opens nothing.
  const v6 = await h.createRoom(alice, { preset: 'private_chat', room_version: '6' });
  await h.state(alice, v6, 'm.room.join_rules', { join_rule: 'knock' });
  assert.equal((await h.call(carol, 'GET', summary(v6))).status, 404);
  assert.equal((await h.ok(alice, 'GET', summary(v6))).room_version, '6');
});

test('room_summary: malformed, unknown and remote targets', async () => {
  const cases: Array<[string, number, string]> = [
    ['nonsense', 400, 'M_INVALID_PARAM'],
    ['#nocolon', 400, 'M_INVALID_PARAM'],
    [`!${'x'.repeat(300)}:${SERVER}`, 400, 'M_INVALID_PARAM'],
    [`!unknown:${SERVER}`, 404, 'M_NOT_FOUND'],
    [`#unknown:${SERVER}`, 404, 'M_NOT_FOUND'],
    ['#far:remote.example', 404, 'M_NOT_FOUND'],
    ['!far:remote.example', 404, 'M_NOT_FOUND'],
    [`#nul\u0000:${SERVER}`, 400, 'M_INVALID_PARAM'],
  ];
  for (const [target, status, errcode] of cases) {
    for (const token of [undefined, alice]) {
      const r = await h.call(token, 'GET', summary(target));
      assert.deepEqual([r.status, r.json.errcode], [status, errcode], `${target} (${token ?? 'anonymous'})`);
    }
  }
  assert.equal((await h.call(alice, 'POST', summary(`!unknown:${SERVER}`), {})).status, 405);
});
