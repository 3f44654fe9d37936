import test from 'node:test';
import assert from 'node:assert/strict';
import { C, SERVER, enc, startHarness } from './helpers.ts';
import type { Harness } from './helpers.ts';

let h: Harness;
test.before(async () => {
  h = await startHarness();
  h.profiles.set(bob, { displayname: 'Bob', avatar_url: 'mxc://x/b' });
});
test.after(() => h.close());

const alice = `@alice:${SERVER}`;
const bob = `@bob:${SERVER}`;
const carol = `@carol:${SERVER}`;
const dave = `@dave:${SERVER}`;

async function room(body: unknown = {}, user = alice): Promise<string> {
  const r = await h.call(user, 'POST', `${C}/createRoom`, body);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.room_id as string;
}

async function membershipOf(roomId: string, userId: string) {
  return (await h.service.store.getMembership(roomId, userId))?.membership;
}

const post = (user: string, roomId: string, action: string, body: unknown = {}) =>
  h.call(user, 'POST', `${C}/rooms/${enc(roomId)}/${action}`, body);

test('invite → join → leave, with profiles in member events and joined_rooms/joined_members', async () => {
  const roomId = await room({ room_version: '11' });
  let r = await post(bob, roomId, 'join');
  assert.equal(r.status, 403, 'invite-only room');
  r = await post(alice, roomId, 'invite', { user_id: bob, reason: 'welcome' });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, {});
  const invite = await h.service.store.getCurrentStateEvents(roomId, [['m.room.member', bob]]);
  assert.deepEqual(invite[0]?.pdu.content, { membership: 'invite', displayname: 'Bob', avatar_url: 'mxc://x/b', reason: 'welcome' });
  assert.ok(h.notified.some((n) => n.users?.includes(bob)), 'the invitee is notified');

  r = await post(bob, roomId, 'join', { reason: 'hi' });
  assert.equal(r.status, 200);
  assert.equal(r.json.room_id, roomId);
  assert.equal(await membershipOf(roomId, bob), 'join');
  // Joining again with nothing new is a no-op returning the same event.
  const before = await h.service.store.getMembership(roomId, bob);
  r = await post(bob, roomId, 'join', { reason: 'hi' });
  assert.equal(r.status, 200);
  assert.equal((await h.service.store.getMembership(roomId, bob))?.eventId, before?.eventId);

  r = await h.call(bob, 'GET', `${C}/joined_rooms`);
  assert.deepEqual(r.json, { joined_rooms: [roomId] });
  r = await h.call(bob, 'GET', `${C}/rooms/${enc(roomId)}/joined_members`);
  assert.deepEqual(r.json, { joined: { [alice]: {}, [bob]: { display_name: 'Bob', avatar_url: 'mxc://x/b' } } });
  r = await h.call(carol, 'GET', `${C}/rooms/${enc(roomId)}/joined_members`);
  assert.equal(r.status, 403);

  r = await post(bob, roomId, 'leave', { reason: 'bye' });
  assert.equal(r.status, 200);
  assert.equal(await membershipOf(roomId, bob), 'leave');
  r = await post(bob, roomId, 'leave');
  assert.equal(r.status, 200, 'leaving again is a no-op');
  r = await h.call(bob, 'GET', `${C}/joined_rooms`);
  assert.deepEqual(r.json, { joined_rooms: [] });
  r = await post(carol, roomId, 'leave');
  assert.equal(r.status, 403, 'cannot leave a room you were never in');
});

test('kick, ban, unban and their forbidden cases', async () => {
  const roomId = await room({ preset: 'public_chat', room_version: '10' });
  await post(bob, roomId, 'join');
  await post(carol, roomId, 'join');
  let r = await post(bob, roomId, 'kick', { user_id: carol });
  assert.equal(r.status, 403, 'bob is below the kick level');
  r = await post(bob, roomId, 'ban', { user_id: carol });
  assert.equal(r.status, 403);
  r = await post(bob, roomId, 'kick', { user_id: alice });
  assert.equal(r.status, 403);
  r = await post(alice, roomId, 'kick', { user_id: dave });
  assert.equal(r.status, 403, 'dave is not in the room');

  r = await post(alice, roomId, 'kick', { user_id: carol, reason: 'noise' });
  assert.equal(r.status, 200);
  assert.equal(await membershipOf(roomId, carol), 'leave');
  const kick = (await h.service.store.getCurrentStateEvents(roomId, [['m.room.member', carol]]))[0];
  assert.equal(kick?.sender, alice);
  assert.equal(kick?.pdu.content.reason, 'noise');

  r = await post(alice, roomId, 'unban', { user_id: carol });
  assert.equal(r.status, 403, 'carol is not banned');
  r = await post(alice, roomId, 'ban', { user_id: carol, reason: 'spam' });
  assert.equal(r.status, 200);
  assert.equal(await membershipOf(roomId, carol), 'ban');
  r = await post(carol, roomId, 'join');
  assert.equal(r.status, 403, 'banned users cannot join');
  r = await post(alice, roomId, 'invite', { user_id: carol });
  assert.equal(r.status, 403, 'nor be invited');
  r = await post(alice, roomId, 'unban', { user_id: carol });
  assert.equal(r.status, 200);
  assert.equal(await membershipOf(roomId, carol), 'leave');
  r = await post(carol, roomId, 'join');
  assert.equal(r.status, 200);

  r = await post(alice, roomId, 'invite', { user_id: bob });
  assert.equal(r.status, 403, 'bob is already joined');
  r = await post(alice, roomId, 'invite', { user_id: '@x:remote.example' });
  assert.equal(r.status, 403, 'remote invites need federation');
  r = await post(alice, roomId, 'invite', {});
  assert.equal(r.json.errcode, 'M_MISSING_PARAM');
  r = await post(alice, roomId, 'ban', { user_id: 'nobody' });
  assert.equal(r.json.errcode, 'M_INVALID_PARAM');
  r = await post(alice, roomId, 'ban', { user_id: '@no-server' });
  assert.equal(r.json.errcode, 'M_INVALID_PARAM');
  r = await post(alice, roomId, 'kick', { user_id: bob, reason: 7 });
  assert.equal(r.json.errcode, 'M_BAD_JSON');
  r = await post(`guest:${bob}`, roomId, 'invite', { user_id: dave });
  assert.equal(r.json.errcode, 'M_GUEST_ACCESS_FORBIDDEN');
});

test('knock: allowed only where the join rule says knock, then invite accepts it', async () => {
  const roomId = await room({ room_version: '10', initial_state: [{ type: 'm.room.join_rules', content: { join_rule: 'knock' } }], room_alias_name: 'knocky' });
  let r = await h.call(dave, 'POST', `${C}/knock/${enc(`#knocky:${SERVER}`)}`, { reason: 'let me in' });
  assert.equal(r.status, 200);
  assert.equal(r.json.room_id, roomId);
  assert.equal(await membershipOf(roomId, dave), 'knock');
  r = await post(dave, roomId, 'join');
  assert.equal(r.status, 403, 'a knock is not an invite');
  r = await post(alice, roomId, 'invite', { user_id: dave });
  assert.equal(r.status, 200);
  r = await post(dave, roomId, 'join');
  assert.equal(r.status, 200);

  const closed = await room({ room_version: '10' });
  r = await h.call(carol, 'POST', `${C}/knock/${enc(closed)}`, {});
  assert.equal(r.status, 403, 'invite-only rooms refuse knocks');
  const old = await room({ room_version: '6', initial_state: [{ type: 'm.room.join_rules', content: { join_rule: 'knock' } }] });
  r = await h.call(carol, 'POST', `${C}/knock/${enc(old)}`, {});
  assert.equal(r.status, 403, 'room versions before 7 have no knocking');
  r = await h.call(carol, 'POST', `${C}/knock/${enc(`#nope:${SERVER}`)}`, {});
  assert.equal(r.status, 404);
});

test('join by alias and ID: unknown and remote rooms are 404; guests need guest access', async () => {
  const roomId = await room({ preset: 'public_chat', room_alias_name: 'pub' });
  let r = await h.call(carol, 'POST', `${C}/join/${enc(`#pub:${SERVER}`)}?server_name=elsewhere&via=x`, {});
  assert.equal(r.status, 200);
  assert.equal(r.json.room_id, roomId);
  r = await h.call(carol, 'POST', `${C}/join/${enc('#pub:remote.example')}`, {});
  assert.equal(r.status, 404);
  assert.equal(r.json.errcode, 'M_NOT_FOUND');
  assert.match(r.json.error, /federation/);
  r = await h.call(carol, 'POST', `${C}/join/${enc('!unknown:remote.example')}`, {});
  assert.equal(r.status, 404);
  r = await h.call(carol, 'POST', `${C}/rooms/${enc('!unknown:remote.example')}/join`, {});
  assert.equal(r.status, 404);
  r = await h.call(carol, 'POST', `${C}/join/garbage`, {});
  assert.equal(r.status, 400);
  r = await h.call(carol, 'POST', `${C}/join/${enc(roomId)}`, { reason: 5 });
  assert.equal(r.json.errcode, 'M_BAD_JSON');

  // public_chat forbids guests; private_chat allows them once invited.
  r = await h.call(`guest:@g1:${SERVER}`, 'POST', `${C}/join/${enc(roomId)}`, {});
  assert.equal(r.status, 403);
  const priv = await room({ preset: 'private_chat', invite: [`@g2:${SERVER}`] });
  r = await h.call(`guest:@g2:${SERVER}`, 'POST', `${C}/join/${enc(priv)}`, {});
  assert.equal(r.status, 200);
});

test('restricted join: members of an allowed room get in, vouched for by a local admin', async () => {
  const space = await room({ room_version: '10' });
  const restricted = await room({
    room_version: '10',
    initial_state: [{ type: 'm.room.join_rules', content: { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: space }] } }],
  });
  let r = await post(bob, restricted, 'join');
  assert.equal(r.status, 403);
  await post(alice, space, 'invite', { user_id: bob });
  await post(bob, space, 'join');
  r = await post(bob, restricted, 'join');
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const ev = (await h.service.store.getCurrentStateEvents(restricted, [['m.room.member', bob]]))[0];
  assert.equal(ev?.pdu.content.join_authorised_via_users_server, alice);
});

test('PUT state m.room.member goes through the auth rules', async () => {
  const roomId = await room({ preset: 'public_chat' });
  let r = await h.call(bob, 'PUT', `${C}/rooms/${enc(roomId)}/state/m.room.member/${enc(bob)}`, { membership: 'join', displayname: 'Custom' });
  assert.equal(r.status, 200);
  assert.equal((await h.service.store.getJoinedMembers(roomId)).get(bob)?.displayname, 'Custom');
  r = await h.call(bob, 'PUT', `${C}/rooms/${enc(roomId)}/state/m.room.member/${enc(carol)}`, { membership: 'join' });
  assert.equal(r.status, 403, 'cannot join someone else');
  r = await h.call(bob, 'PUT', `${C}/rooms/${enc(roomId)}/state/m.room.member/${enc(carol)}`, { membership: 'dancing' });
  assert.equal(r.status, 403);
  r = await h.call(bob, 'PUT', `${C}/rooms/${enc(roomId)}/state/m.room.member/bob`, { membership: 'join' });
  assert.equal(r.json.errcode, 'M_INVALID_PARAM');
});

test('/members filters (membership, not_membership, both as "or") and `at`', async () => {
  const roomId = await room({ preset: 'public_chat', invite: [dave] });
  await post(bob, roomId, 'join');
  const t0 = h.writer.position;
  await post(carol, roomId, 'join');
  await post(carol, roomId, 'leave');
  const members = async (query = '', user = alice) => {
    const r = await h.call(user, 'GET', `${C}/rooms/${enc(roomId)}/members${query}`);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return Object.fromEntries(r.json.chunk.map((e: { state_key: string; content: { membership: string } }) => [e.state_key, e.content.membership]));
  };
  assert.deepEqual(await members(), { [alice]: 'join', [bob]: 'join', [carol]: 'leave', [dave]: 'invite' });
  assert.deepEqual(await members('?membership=join'), { [alice]: 'join', [bob]: 'join' });
  assert.deepEqual(await members('?not_membership=join'), { [carol]: 'leave', [dave]: 'invite' });
  assert.deepEqual(await members('?membership=invite&not_membership=leave'), { [alice]: 'join', [bob]: 'join', [dave]: 'invite' });
  assert.deepEqual(await members(`?at=s${t0}`), { [alice]: 'join', [bob]: 'join', [dave]: 'invite' }, 'carol had not joined yet');
  assert.deepEqual(await members(`?at=s${t0}_0_0_0_0_0_0_0_0`), { [alice]: 'join', [bob]: 'join', [dave]: 'invite' });
  assert.deepEqual(await members(`?at=t1-${t0}`), { [alice]: 'join', [bob]: 'join', [dave]: 'invite' });

  let r = await h.call(alice, 'GET', `${C}/rooms/${enc(roomId)}/members?membership=joined`);
  assert.equal(r.json.errcode, 'M_INVALID_PARAM');
  r = await h.call(alice, 'GET', `${C}/rooms/${enc(roomId)}/members?at=garbage`);
  assert.equal(r.json.errcode, 'M_INVALID_PARAM');
  r = await h.call(`@zed:${SERVER}`, 'GET', `${C}/rooms/${enc(roomId)}/members`);
  assert.equal(r.status, 403);
  r = await h.call(dave, 'GET', `${C}/rooms/${enc(roomId)}/members`);
  assert.equal(r.status, 403, 'invited users do not see the member list of a shared room');
  // carol left: she sees the members as of her leave, not later changes.
  await post(`@erin:${SERVER}`, roomId, 'join');
  assert.deepEqual(await members('', carol), { [alice]: 'join', [bob]: 'join', [carol]: 'leave', [dave]: 'invite' });
});

test('forget: only after leaving; forgotten rooms stop being readable', async () => {
  const roomId = await room({ preset: 'public_chat' });
  await post(bob, roomId, 'join');
  let r = await post(bob, roomId, 'forget');
  assert.equal(r.status, 400);
  assert.equal(r.json.errcode, 'M_UNKNOWN');
  await post(bob, roomId, 'leave');
  r = await h.call(bob, 'GET', `${C}/rooms/${enc(roomId)}/state`);
  assert.equal(r.status, 200, 'after leaving, the state at the leave is readable');
  r = await post(bob, roomId, 'forget');
  assert.equal(r.status, 200);
  r = await h.call(bob, 'GET', `${C}/rooms/${enc(roomId)}/state`);
  assert.equal(r.status, 403);
  r = await post(carol, roomId, 'forget');
  assert.equal(r.status, 200, 'forgetting a room you were never in is a no-op');
  assert.deepEqual((await h.service.store.getRoomsForUser(bob)).map((m) => m.roomId).includes(roomId), false);
  // Rejoining clears the forgotten flag.
  await post(bob, roomId, 'join');
  assert.equal((await h.service.store.getLocalMembership(roomId, bob))?.forgotten, false);
});

test('updateMemberProfiles sends a new join event to every joined room, and none where nothing changed', async () => {
  const frank = `@frank:${SERVER}`;
  const r1 = await room({ preset: 'public_chat' });
  const r2 = await room({ preset: 'public_chat' });
  const r3 = await room({ preset: 'public_chat' });
  await post(frank, r1, 'join');
  await post(frank, r2, 'join');
  await post(frank, r3, 'join');
  await post(frank, r3, 'leave');
  const res = await h.service.updateMemberProfiles(frank, { displayname: 'Frank', avatar_url: 'mxc://x/f' });
  assert.deepEqual(res, { updated: 2, failed: 0 });
  for (const r of [r1, r2]) assert.deepEqual((await h.service.store.getJoinedMembers(r)).get(frank), { displayname: 'Frank', avatarUrl: 'mxc://x/f' });
  assert.equal(await membershipOf(r3, frank), 'leave', 'left rooms are untouched');
  const again = await h.service.updateMemberProfiles(frank, { displayname: 'Frank', avatar_url: 'mxc://x/f' });
  assert.deepEqual(again, { updated: 0, failed: 0 });
  await h.service.updateMemberProfiles(frank, { displayname: null, avatar_url: 'mxc://x/f' });
  assert.deepEqual((await h.service.store.getJoinedMembers(r1)).get(frank), { avatarUrl: 'mxc://x/f' });
});
