/**
 * Room sections: invites with stripped state, knocks, rooms joined in the window (sent in full), left,
 * kicked and banned rooms, `include_leave` on initial syncs, forgotten rooms, ignored inviters.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, timelineIds, V3, type Harness, type TestUser } from './harness.ts';

let h: Harness;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
test.before(async () => {
  h = await startHarness();
  alice = await h.register('alice');
  bob = await h.register('bob');
  carol = await h.register('carol');
});
test.after(async () => {
  await h.close();
});

const enc = encodeURIComponent;

test('an invite appears in rooms.invite with stripped state and the invite event; joining moves the room to rooms.join in full', async () => {
  const roomId = await h.createRoom(alice, { name: 'Invited', topic: 'come in', initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }] });
  await h.send(alice, roomId, 'before bob');
  const since = (await h.sync(bob)).json.next_batch;
  const inv = await h.call(alice, 'POST', `${V3}/rooms/${enc(roomId)}/invite`, { user_id: bob.userId });
  assert.equal(inv.status, 200);
  const res = await h.sync(bob, { since });
  const invite = res.json.rooms.invite[roomId];
  assert.ok(invite, 'in rooms.invite');
  assert.equal(res.json.rooms.join?.[roomId], undefined);
  const events = invite.invite_state.events;
  const types = events.map((e: any) => e.type).sort();
  assert.deepEqual(types, ['m.room.create', 'm.room.encryption', 'm.room.join_rules', 'm.room.member', 'm.room.name', 'm.room.topic']);
  for (const e of events.filter((x: any) => x.type !== 'm.room.member')) assert.deepEqual(Object.keys(e).sort(), ['content', 'sender', 'state_key', 'type']);
  const member = events.find((e: any) => e.type === 'm.room.member');
  assert.equal(member.state_key, bob.userId);
  assert.equal(member.sender, alice.userId);
  assert.equal(member.content.membership, 'invite');
  assert.equal(events.find((e: any) => e.type === 'm.room.name').content.name, 'Invited');
  // The invite stays in an initial sync but not in the next incremental one.
  assert.ok((await h.sync(bob)).json.rooms.invite[roomId]);
  const quiet = await h.sync(bob, { since: res.json.next_batch });
  assert.equal(quiet.json.rooms?.invite?.[roomId], undefined);

  const join = await h.call(bob, 'POST', `${V3}/rooms/${enc(roomId)}/join`, {});
  assert.equal(join.status, 200);
  const joined = await h.sync(bob, { since: quiet.json.next_batch });
  const room = joined.json.rooms.join[roomId];
  assert.ok(room);
  assert.equal(joined.json.rooms.invite?.[roomId], undefined);
  // Newly joined: full state at the start of the timeline, timeline from before the join, limited.
  assert.equal(room.timeline.limited, true);
  assert.equal(room.timeline.events.at(-1).state_key, bob.userId);
  const keys = new Set([...room.state.events, ...room.timeline.events].filter((e: any) => e.state_key !== undefined).map((e: any) => `${e.type}|${e.state_key}`));
  for (const k of ['m.room.create|', 'm.room.name|', 'm.room.topic|', 'm.room.encryption|', `m.room.member|${alice.userId}`, `m.room.member|${bob.userId}`]) assert.ok(keys.has(k), k);
  assert.deepEqual(room.summary['m.joined_member_count'], 2);
});

test('rejecting an invite, being kicked and being banned land in rooms.leave with the timeline up to the leave', async () => {
  const r1 = await h.createRoom(alice, { name: 'Reject me' });
  const r2 = await h.createRoom(alice, { preset: 'public_chat', name: 'Kick me' });
  const r3 = await h.createRoom(alice, { preset: 'public_chat', name: 'Ban me' });
  await h.call(alice, 'POST', `${V3}/rooms/${enc(r1)}/invite`, { user_id: carol.userId });
  for (const r of [r2, r3]) assert.equal((await h.call(carol, 'POST', `${V3}/join/${enc(r)}`, {})).status, 200);
  const since = (await h.sync(carol)).json.next_batch;
  const before = await h.send(alice, r2, 'before the kick');
  assert.equal((await h.call(carol, 'POST', `${V3}/rooms/${enc(r1)}/leave`, {})).status, 200);
  const kick = await h.call(alice, 'POST', `${V3}/rooms/${enc(r2)}/kick`, { user_id: carol.userId, reason: 'out' });
  assert.equal(kick.status, 200);
  const ban = await h.call(alice, 'POST', `${V3}/rooms/${enc(r3)}/ban`, { user_id: carol.userId });
  assert.equal(ban.status, 200);
  const after = await h.send(alice, r2, 'after the kick');
  const res = await h.sync(carol, { since });
  const leave = res.json.rooms.leave;
  assert.deepEqual(Object.keys(leave).sort(), [r1, r2, r3].sort());
  assert.equal(res.json.rooms.join?.[r2], undefined);
  const r2ids = timelineIds(res.json, r2, 'leave');
  assert.ok(r2ids.includes(before));
  assert.equal(leave[r2].timeline.events.at(-1).sender, alice.userId);
  assert.equal(leave[r2].timeline.events.at(-1).content.reason, 'out');
  assert.equal(leave[r2].timeline.events.at(-1).content.membership, 'leave');
  assert.equal(leave[r2].timeline.events.at(-1).state_key, carol.userId);
  assert.ok(!r2ids.includes(after), 'nothing after the kick');
  assert.equal(leave[r3].timeline.events.at(-1).content.membership, 'ban');
  // The rejected invite: carol sees her own leave.
  assert.equal(leave[r1].timeline.events.at(-1).content.membership, 'leave');
  assert.ok(Array.isArray(leave[r2].state.events) && Array.isArray(leave[r2].account_data.events));

  // Initial syncs list left rooms only with include_leave.
  const plain = await h.sync(carol);
  assert.equal(plain.json.rooms?.leave, undefined);
  const withLeave = await h.sync(carol, { filter: { room: { include_leave: true } } });
  assert.deepEqual(Object.keys(withLeave.json.rooms.leave).sort(), [r1, r2, r3].sort());
  const full = withLeave.json.rooms.leave[r2];
  assert.ok(!timelineIds(withLeave.json, r2, 'leave').includes(after));
  const keys = new Set([...full.state.events, ...full.timeline.events].map((e: any) => `${e.type}|${e.state_key}`));
  assert.ok(keys.has('m.room.create|') && keys.has('m.room.name|'));

  // Forgotten rooms disappear from include_leave.
  assert.equal((await h.call(carol, 'POST', `${V3}/rooms/${enc(r2)}/forget`, {})).status, 200);
  const afterForget = await h.sync(carol, { filter: { room: { include_leave: true } } });
  assert.equal(afterForget.json.rooms.leave[r2], undefined);
  assert.ok(afterForget.json.rooms.leave[r3]);
});

test('a knock appears in rooms.knock with knock_state', async () => {
  const roomId = await h.createRoom(alice, {
    name: 'Knock knock',
    initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }],
  });
  const since = (await h.sync(carol)).json.next_batch;
  const knock = await h.call(carol, 'POST', `${V3}/knock/${enc(roomId)}`, { reason: 'let me in' });
  assert.equal(knock.status, 200, JSON.stringify(knock.json));
  const res = await h.sync(carol, { since });
  const events = res.json.rooms.knock[roomId].knock_state.events;
  const member = events.find((e: any) => e.type === 'm.room.member');
  assert.equal(member.content.membership, 'knock');
  assert.equal(member.sender, carol.userId);
  assert.equal(events.find((e: any) => e.type === 'm.room.join_rules').content.join_rule, 'knock');
  assert.equal(events.find((e: any) => e.type === 'm.room.name').content.name, 'Knock knock');
  // The room's admin sees the knock in the timeline.
  const adminView = await h.sync(alice, { filter: { room: { rooms: [roomId], timeline: { limit: 1 } } } });
  assert.equal(adminView.json.rooms.join[roomId].timeline.events[0].content.membership, 'knock');
});

test('invites from ignored users are not sent', async () => {
  const roomId = await h.createRoom(bob, { name: 'From an ignored user' });
  assert.equal((await h.call(carol, 'PUT', `${V3}/user/${enc(carol.userId)}/account_data/m.ignored_user_list`, { ignored_users: { [bob.userId]: {} } })).status, 200);
  const since = (await h.sync(carol)).json.next_batch;
  await h.call(bob, 'POST', `${V3}/rooms/${enc(roomId)}/invite`, { user_id: carol.userId });
  const other = await h.createRoom(alice, { name: 'From a friend' });
  await h.call(alice, 'POST', `${V3}/rooms/${enc(other)}/invite`, { user_id: carol.userId });
  const res = await h.sync(carol, { since });
  assert.equal(res.json.rooms.invite[roomId], undefined);
  assert.ok(res.json.rooms.invite[other]);
  assert.equal((await h.sync(carol)).json.rooms.invite[roomId], undefined);
});

test('rooms/not_rooms of the room filter restrict every section', async () => {
  const keep = await h.createRoom(alice, { name: 'keep' });
  const drop = await h.createRoom(alice, { name: 'drop' });
  const res = await h.sync(alice, { filter: { room: { not_rooms: [drop] } } });
  assert.ok(res.json.rooms.join[keep]);
  assert.equal(res.json.rooms.join[drop], undefined);
  const only = await h.sync(alice, { filter: { room: { rooms: [drop] } } });
  assert.deepEqual(Object.keys(only.json.rooms.join), [drop]);
});

test('a room with no name gets heroes in its summary', async () => {
  const roomId = await h.createRoom(alice, { invite: [bob.userId] });
  const res = await h.sync(alice, { filter: { room: { rooms: [roomId] } } });
  assert.deepEqual(res.json.rooms.join[roomId].summary, { 'm.heroes': [bob.userId], 'm.joined_member_count': 1, 'm.invited_member_count': 1 });
  const since = res.json.next_batch;
  await h.call(bob, 'POST', `${V3}/rooms/${enc(roomId)}/join`, {});
  const inc = await h.sync(alice, { since });
  assert.deepEqual(inc.json.rooms.join[roomId].summary, { 'm.heroes': [bob.userId], 'm.joined_member_count': 2, 'm.invited_member_count': 0 });
  // No membership change: no summary.
  const since2 = inc.json.next_batch;
  await h.send(bob, roomId, 'hi');
  assert.deepEqual((await h.sync(alice, { since: since2 })).json.rooms.join[roomId].summary, {});
});
