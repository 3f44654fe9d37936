/** POST /rooms/{roomId}/upgrade end to end. */
import test from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '@hs/core';
import { C, SERVER, enc, startHarness, text, user } from './harness.ts';
import type { Harness } from './harness.ts';
import { assertResponseShape, specPresent } from '../../../e2e/support/openapi.ts';

const alice = user('alice');
const bob = user('bob');
const carol = user('carol');
const dave = user('dave');

let h: Harness;
test.before(async () => {
  h = await startHarness();
});
test.after(() => h.close());

const upgrade = (token: string, roomId: string, body: unknown) => h.call(token, 'POST', `${C}/rooms/${enc(roomId)}/upgrade`, body);

async function stateOf(roomId: string): Promise<Map<string, JsonObject>> {
  const events = await h.rooms.store.getCurrentStateEvents(roomId);
  return new Map(events.map((e) => [`${e.type}|${e.stateKey}`, e.pdu.content as JsonObject]));
}

test('v10 → v11: state, bans, aliases, canonical alias and directory entry move; the old room is closed', async () => {
  const old = await h.createRoom(alice, {
    room_version: '10',
    preset: 'public_chat',
    visibility: 'public',
    name: 'Old',
    topic: 'about things',
    room_alias_name: 'up1',
    initial_state: [
      { type: 'm.room.encryption', content: { algorithm: 'm.megolm.v1.aes-sha2' } },
      { type: 'm.room.server_acl', content: { allow: ['*'], deny: ['evil.example'], allow_ip_literals: false } },
      { type: 'm.room.avatar', content: { url: 'mxc://test.local/av' } },
      { type: 'org.example.custom', state_key: '', content: { not: 'copied' } },
    ],
  });
  await h.member(bob, old, 'join');
  await h.member(carol, old, 'join');
  await h.ok(alice, 'POST', `${C}/rooms/${enc(old)}/ban`, { user_id: carol, reason: 'spam' });
  await h.ok(alice, 'PUT', `${C}/directory/room/${enc(`#up1alt:${SERVER}`)}`, { room_id: old });
  await h.state(alice, old, 'm.room.canonical_alias', { alias: `#up1:${SERVER}`, alt_aliases: [`#up1alt:${SERVER}`] });
  const pl = (await stateOf(old)).get('m.room.power_levels|') as JsonObject;
  await h.state(alice, old, 'm.room.power_levels', { ...pl, users: { ...(pl.users as JsonObject), [bob]: 50 } });
  await h.send(bob, old, text('last words'));

  const res = await upgrade(alice, old, { new_version: '11' });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  const fresh: string = res.json.replacement_room;
  assert.notEqual(fresh, old);
  if (specPresent('room-api upgrade')) assertResponseShape('room_upgrades.yaml', '/rooms/{roomId}/upgrade', 'post', 200, res.json);

  assert.equal(await h.rooms.store.getRoomVersion(fresh), '11');
  const s = await stateOf(fresh);
  const create = s.get('m.room.create|') as JsonObject;
  assert.equal((create.predecessor as JsonObject).room_id, old);
  const predecessorEvent = await h.rooms.store.getEvent((create.predecessor as JsonObject).event_id as string);
  assert.equal(predecessorEvent?.roomId, old);
  assert.equal(create.creator, undefined, 'v11 has no creator key');
  assert.equal(s.get('m.room.name|')?.name, 'Old');
  assert.equal(s.get('m.room.topic|')?.topic, 'about things');
  assert.equal(s.get('m.room.encryption|')?.algorithm, 'm.megolm.v1.aes-sha2');
  assert.deepEqual(s.get('m.room.server_acl|')?.deny, ['evil.example']);
  assert.equal(s.get('m.room.avatar|')?.url, 'mxc://test.local/av');
  assert.equal(s.get('m.room.join_rules|')?.join_rule, 'public');
  assert.equal(s.get('m.room.history_visibility|')?.history_visibility, 'shared');
  assert.equal(s.has('org.example.custom|'), false);
  assert.deepEqual((s.get('m.room.power_levels|')?.users as JsonObject)[bob], 50);
  assert.deepEqual(s.get(`m.room.member|${carol}`), { membership: 'ban', reason: 'spam' });
  assert.equal(s.get(`m.room.member|${alice}`)?.membership, 'join');
  assert.equal(s.has(`m.room.member|${bob}`), false, 'members are not moved');
  assert.deepEqual(s.get('m.room.canonical_alias|'), { alias: `#up1:${SERVER}`, alt_aliases: [`#up1alt:${SERVER}`] });

  const o = await stateOf(old);
  assert.deepEqual(o.get('m.room.tombstone|'), { body: 'This room has been replaced', replacement_room: fresh });
  assert.deepEqual(o.get('m.room.canonical_alias|'), { alt_aliases: [] });
  const oldPl = o.get('m.room.power_levels|') as JsonObject;
  assert.deepEqual([oldPl.events_default, oldPl.invite], [50, 50]);
  assert.equal((await h.ok(undefined, 'GET', `${C}/directory/room/${enc(`#up1:${SERVER}`)}`)).room_id, fresh);
  assert.deepEqual((await h.ok(alice, 'GET', `${C}/rooms/${enc(fresh)}/aliases`)).aliases.sort(), [`#up1:${SERVER}`, `#up1alt:${SERVER}`]);
  assert.deepEqual((await h.ok(alice, 'GET', `${C}/rooms/${enc(old)}/aliases`)).aliases, []);
  assert.deepEqual(await h.ok(undefined, 'GET', `${C}/directory/list/room/${enc(old)}`), { visibility: 'private' });
  assert.deepEqual(await h.ok(undefined, 'GET', `${C}/directory/list/room/${enc(fresh)}`), { visibility: 'public' });
  // Ordinary members can no longer talk in the old room; moderators still can.
  await h.member(dave, old, 'join');
  assert.equal((await h.call(dave, 'PUT', `${C}/rooms/${enc(old)}/send/m.room.message/d1`, text('hi'))).status, 403);
  assert.equal((await h.call(bob, 'PUT', `${C}/rooms/${enc(old)}/send/m.room.message/b1`, text('hi'))).status, 200);
});

test('→ v12: the upgrader and additional_creators are creators and leave the power levels', async () => {
  const old = await h.createRoom(alice, { room_version: '11', preset: 'private_chat' });
  await h.member(alice, old, 'invite', bob);
  await h.member(bob, old, 'join');
  const pl = (await stateOf(old)).get('m.room.power_levels|') as JsonObject;
  await h.state(alice, old, 'm.room.power_levels', { ...pl, users: { ...(pl.users as JsonObject), [bob]: 100, [dave]: 50 } });
  const res = await upgrade(alice, old, { new_version: '12', additional_creators: [bob] });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  const fresh: string = res.json.replacement_room;
  assert.equal(await h.rooms.store.getRoomVersion(fresh), '12');
  const s = await stateOf(fresh);
  assert.deepEqual(s.get('m.room.create|')?.additional_creators, [bob]);
  assert.equal((s.get('m.room.create|')?.predecessor as JsonObject).room_id, old);
  const users = s.get('m.room.power_levels|')?.users as JsonObject;
  assert.deepEqual(users, { [dave]: 50 });
  assert.equal(s.get('m.room.join_rules|')?.join_rule, 'invite');
  assert.equal((await stateOf(old)).get('m.room.tombstone|')?.replacement_room, fresh);

  // And back from v12 to an older version: the creators get 100 there.
  const back = await upgrade(alice, fresh, { new_version: '11' });
  assert.equal(back.status, 200, JSON.stringify(back.json));
  const b = await stateOf(back.json.replacement_room);
  assert.deepEqual(b.get('m.room.power_levels|')?.users, { [dave]: 50, [alice]: 100, [bob]: 100 });
  assert.equal(b.get('m.room.create|')?.additional_creators, undefined);
});

test('an upgrader with just enough power for the tombstone gets a temporary raise to copy state', async () => {
  const old = await h.createRoom(alice, {
    room_version: '10',
    preset: 'public_chat',
    name: 'Guarded',
    power_level_content_override: { state_default: 100, events: { 'm.room.tombstone': 50, 'm.room.name': 100 }, users: { [alice]: 100, [bob]: 50 } },
  });
  await h.member(bob, old, 'join');
  const res = await upgrade(bob, old, { new_version: '10' });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  const s = await stateOf(res.json.replacement_room);
  assert.equal(s.get('m.room.name|')?.name, 'Guarded');
  assert.deepEqual(s.get('m.room.power_levels|')?.users, { [alice]: 100, [bob]: 50 }, 'restored after copying');
});

test('spaces keep their type and children', async () => {
  const space = await h.createRoom(alice, { preset: 'public_chat', room_version: '11', creation_content: { type: 'm.space' } });
  const child = await h.createRoom(alice, { preset: 'public_chat' });
  await h.state(alice, space, 'm.space.child', { via: [SERVER] }, child);
  const res = await upgrade(alice, space, { new_version: '11' });
  assert.equal(res.status, 200);
  const s = await stateOf(res.json.replacement_room);
  assert.equal(s.get('m.room.create|')?.type, 'm.space');
  assert.deepEqual(s.get(`m.space.child|${child}`), { via: [SERVER] });
});

test('refusals: no permission, bad versions, bad input', async () => {
  const room = await h.createRoom(alice, { preset: 'public_chat', room_version: '11' });
  await h.member(bob, room, 'join');
  const before = (await h.db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM rooms`)[0]?.n;
  const denied = await upgrade(bob, room, { new_version: '11' });
  assert.equal(denied.status, 403);
  assert.equal(denied.json.errcode, 'M_FORBIDDEN');
  const outsider = await upgrade(carol, room, { new_version: '11' });
  assert.equal(outsider.status, 403);
  const after = (await h.db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM rooms`)[0]?.n;
  assert.equal(after, before, 'no room was created');
  const cases: Array<[string, string, unknown, number, string]> = [
    [alice, room, { new_version: '99' }, 400, 'M_UNSUPPORTED_ROOM_VERSION'],
    [alice, room, {}, 400, 'M_MISSING_PARAM'],
    [alice, room, { new_version: 11 }, 400, 'M_BAD_JSON'],
    [alice, room, { new_version: '12', additional_creators: ['not-a-user'] }, 400, 'M_INVALID_PARAM'],
    [alice, room, { new_version: '12', additional_creators: 'x' }, 400, 'M_BAD_JSON'],
    [alice, '!unknown:test.local', { new_version: '11' }, 404, 'M_NOT_FOUND'],
    [alice, 'not-a-room', { new_version: '11' }, 400, 'M_INVALID_PARAM'],
    [`guest:${alice}`, room, { new_version: '11' }, 403, 'M_GUEST_ACCESS_FORBIDDEN'],
  ];
  for (const [token, roomId, body, status, errcode] of cases) {
    const r = await upgrade(token, roomId, body);
    assert.equal(r.status, status, `${JSON.stringify(body)}: ${JSON.stringify(r.json)}`);
    assert.equal(r.json.errcode, errcode, JSON.stringify(body));
  }
});
