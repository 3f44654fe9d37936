/**
 * MSC4222's unstable names on /sync: `org.matrix.msc4222.use_state_after` turns state_after on (what
 * matrix-js-sdk sends) and rooms then carry it as `org.matrix.msc4222.state_after`, with the same events
 * the stable `use_state_after` / `state_after` pair gives.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, timelineIds, V3 } from './harness.ts';

const UNSTABLE_PARAM = 'org.matrix.msc4222.use_state_after';
const UNSTABLE_KEY = 'org.matrix.msc4222.state_after';

const h = await startHarness();
const alice = await h.register('alice');
const bob = await h.register('bob');
test.after(() => h.close());

const ids = (section: any): string[] => section.events.map((e: any) => e.event_id).sort();

test('the unstable parameter answers under the unstable key, with what the stable pair answers', async () => {
  const roomId = await h.createRoom(alice, { preset: 'public_chat', name: 'Unstable' });
  const filter = { room: { rooms: [roomId] } };
  const initial = await h.sync(alice, { [UNSTABLE_PARAM]: true, filter });
  assert.equal(initial.status, 200);
  const room = initial.json.rooms.join[roomId];
  assert.equal(room.state, undefined);
  assert.equal(room.state_after, undefined);
  const keys = room[UNSTABLE_KEY].events.map((e: any) => `${e.type}|${e.state_key}`);
  assert.ok(keys.includes('m.room.create|') && keys.includes('m.room.name|') && keys.includes(`m.room.member|${alice.userId}`));
  const stable = await h.sync(alice, { use_state_after: true, filter });
  assert.deepEqual(ids(room[UNSTABLE_KEY]), ids(stable.json.rooms.join[roomId].state_after));

  // Incrementally: a state change at the end of the timeline is in the timeline and in the unstable key.
  const topic = await h.call(alice, 'PUT', `${V3}/rooms/${encodeURIComponent(roomId)}/state/m.room.topic`, { topic: 't' });
  assert.equal(topic.status, 200);
  const inc = await h.sync(alice, { since: initial.json.next_batch, [UNSTABLE_PARAM]: true, filter });
  const r2 = inc.json.rooms.join[roomId];
  assert.equal(r2.state, undefined);
  assert.deepEqual(r2[UNSTABLE_KEY].events.map((e: any) => e.event_id), [topic.json.event_id]);
  assert.deepEqual(timelineIds(inc.json, roomId), [topic.json.event_id]);
});

test('left rooms use the unstable key too', async () => {
  const roomId = await h.createRoom(alice, { preset: 'public_chat', name: 'Leave me' });
  const join = await h.call(bob, 'POST', `${V3}/join/${encodeURIComponent(roomId)}`, {});
  assert.equal(join.status, 200);
  const since = (await h.sync(bob, { [UNSTABLE_PARAM]: true })).json.next_batch;
  const leave = await h.call(bob, 'POST', `${V3}/rooms/${encodeURIComponent(roomId)}/leave`, {});
  assert.equal(leave.status, 200);
  const res = await h.sync(bob, { since, [UNSTABLE_PARAM]: true });
  const left = res.json.rooms.leave[roomId];
  assert.ok(left, 'room in rooms.leave');
  assert.equal(left.state, undefined);
  assert.equal(left.state_after, undefined);
  assert.ok(Array.isArray(left[UNSTABLE_KEY].events));
  assert.ok(left[UNSTABLE_KEY].events.some((e: any) => e.type === 'm.room.member' && e.state_key === bob.userId && e.content.membership === 'leave'));
});

test('both names on: the stable key; the unstable name off: plain state; a bad value: 400', async () => {
  const roomId = await h.createRoom(alice, { preset: 'public_chat' });
  const filter = { room: { rooms: [roomId] } };
  const both = (await h.sync(alice, { use_state_after: true, [UNSTABLE_PARAM]: true, filter })).json.rooms.join[roomId];
  assert.ok(both.state_after);
  assert.equal(both[UNSTABLE_KEY], undefined);
  assert.equal(both.state, undefined);
  const off = (await h.sync(alice, { [UNSTABLE_PARAM]: false, filter })).json.rooms.join[roomId];
  assert.ok(off.state);
  assert.equal(off[UNSTABLE_KEY], undefined);
  assert.equal(off.state_after, undefined);
  const bad = await h.call(alice, 'GET', `${V3}/sync?${new URLSearchParams({ [UNSTABLE_PARAM]: '1' })}`);
  assert.equal(bad.status, 400);
  assert.equal(bad.json.errcode, 'M_INVALID_PARAM');
});
