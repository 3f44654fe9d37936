import test from 'node:test';
import assert from 'node:assert/strict';
import { C, SERVER, enc, startHarness } from './helpers.ts';
import type { Harness } from './helpers.ts';

let h: Harness;
test.before(async () => {
  h = await startHarness();
});
test.after(() => h.close());

const alice = `@alice:${SERVER}`;
const bob = `@bob:${SERVER}`;
const carol = `@carol:${SERVER}`;
const dave = `@dave:${SERVER}`;
const eve = `@eve:${SERVER}`;

let txn = 0;
async function say(user: string, roomId: string, body: string): Promise<string> {
  const r = await h.call(user, 'PUT', `${C}/rooms/${enc(roomId)}/send/m.room.message/v${txn++}`, { msgtype: 'm.text', body });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.event_id;
}

async function setVisibility(roomId: string, v: string): Promise<string> {
  const r = await h.call(alice, 'PUT', `${C}/rooms/${enc(roomId)}/state/m.room.history_visibility`, { history_visibility: v });
  assert.equal(r.status, 200);
  return r.json.event_id;
}

async function sees(user: string, roomId: string, eventId: string): Promise<boolean> {
  const r = await h.call(user, 'GET', `${C}/rooms/${enc(roomId)}/event/${enc(eventId)}`);
  assert.ok(r.status === 200 || (r.status === 404 && r.json.errcode === 'M_NOT_FOUND'), JSON.stringify(r));
  return r.status === 200;
}

const post = (user: string, roomId: string, action: string, body: unknown = {}) =>
  h.call(user, 'POST', `${C}/rooms/${enc(roomId)}/${action}`, body);

test('joined: only events while joined; your own leave stays visible', async () => {
  const roomId = (await h.call(alice, 'POST', `${C}/createRoom`, { preset: 'public_chat' })).json.room_id;
  await setVisibility(roomId, 'joined');
  const before = await say(alice, roomId, 'before bob');
  await post(bob, roomId, 'join');
  const during = await say(alice, roomId, 'while bob is here');
  await post(bob, roomId, 'leave');
  const leave = (await h.service.store.getMembership(roomId, bob))?.eventId as string;
  const after = await say(alice, roomId, 'after bob');
  assert.equal(await sees(bob, roomId, before), false);
  assert.equal(await sees(bob, roomId, during), true);
  assert.equal(await sees(bob, roomId, leave), true, 'membership before the leave was join');
  assert.equal(await sees(bob, roomId, after), false);
  assert.equal(await sees(carol, roomId, during), false);
  assert.equal(await sees(alice, roomId, before), true);
});

test('shared: a member sees history from before joining; never what came after leaving', async () => {
  const roomId = (await h.call(alice, 'POST', `${C}/createRoom`, { preset: 'public_chat' })).json.room_id;
  const early = await say(alice, roomId, 'early');
  assert.equal(await sees(bob, roomId, early), false, 'not before joining');
  await post(bob, roomId, 'join');
  assert.equal(await sees(bob, roomId, early), true);
  const r = await h.call(bob, 'GET', `${C}/rooms/${enc(roomId)}/event/${enc(early)}`);
  assert.equal(r.json.unsigned.membership, 'leave', 'bob was not yet a member when it was sent');
  await post(bob, roomId, 'leave');
  const late = await say(alice, roomId, 'late');
  assert.equal(await sees(bob, roomId, late), false);
  assert.equal(await sees(bob, roomId, early), true, 'still visible after leaving');
});

test('invited: visible from the invite on', async () => {
  const roomId = (await h.call(alice, 'POST', `${C}/createRoom`, {})).json.room_id;
  await setVisibility(roomId, 'invited');
  const beforeInvite = await say(alice, roomId, 'before');
  await post(alice, roomId, 'invite', { user_id: dave });
  const afterInvite = await say(alice, roomId, 'after');
  assert.equal(await sees(dave, roomId, beforeInvite), false);
  assert.equal(await sees(dave, roomId, afterInvite), true);
  const r = await h.call(dave, 'GET', `${C}/rooms/${enc(roomId)}/event/${enc(afterInvite)}`);
  assert.equal(r.json.unsigned.membership, 'invite');
});

test('world_readable: anyone reads events and state; visibility changes are visible either side', async () => {
  const roomId = (await h.call(alice, 'POST', `${C}/createRoom`, { preset: 'private_chat' })).json.room_id;
  const hidden = await say(alice, roomId, 'private');
  const toWorld = await setVisibility(roomId, 'world_readable');
  const open = await say(alice, roomId, 'public');
  const toJoined = await setVisibility(roomId, 'joined');
  const closed = await say(alice, roomId, 'private again');
  assert.equal(await sees(eve, roomId, hidden), false);
  assert.equal(await sees(eve, roomId, toWorld), true, 'the change to world_readable');
  assert.equal(await sees(eve, roomId, open), true);
  assert.equal(await sees(eve, roomId, toJoined), true, 'the change away from world_readable');
  assert.equal(await sees(eve, roomId, closed), false);

  // State reads follow the current visibility.
  let r = await h.call(eve, 'GET', `${C}/rooms/${enc(roomId)}/state`);
  assert.equal(r.status, 403);
  await setVisibility(roomId, 'world_readable');
  r = await h.call(eve, 'GET', `${C}/rooms/${enc(roomId)}/state`);
  assert.equal(r.status, 200);
  r = await h.call(eve, 'GET', `${C}/rooms/${enc(roomId)}/state/m.room.history_visibility`);
  assert.deepEqual(r.json, { history_visibility: 'world_readable' });
  r = await h.call(eve, 'GET', `${C}/rooms/${enc(roomId)}/members`);
  assert.equal(r.status, 200);
  r = await h.call(eve, 'GET', `${C}/rooms/${enc(roomId)}/joined_members`);
  assert.equal(r.status, 403, 'joined_members needs membership');
});

test('/event: wrong room, unknown event and non-members are 404; state reads by non-members are 403', async () => {
  const a = (await h.call(alice, 'POST', `${C}/createRoom`, {})).json.room_id;
  const b = (await h.call(alice, 'POST', `${C}/createRoom`, {})).json.room_id;
  const m = await say(alice, a, 'in a');
  assert.equal((await h.call(alice, 'GET', `${C}/rooms/${enc(b)}/event/${enc(m)}`)).status, 404);
  assert.equal((await h.call(alice, 'GET', `${C}/rooms/${enc(a)}/event/${enc('$nope')}`)).status, 404);
  assert.equal((await h.call(eve, 'GET', `${C}/rooms/${enc(a)}/event/${enc(m)}`)).status, 404);
  for (const path of ['state', 'state/m.room.name', 'members']) {
    const r = await h.call(eve, 'GET', `${C}/rooms/${enc(a)}/${path}`);
    assert.equal(r.status, 403, path);
    assert.equal(r.json.errcode, 'M_FORBIDDEN');
  }
  assert.equal((await h.call(eve, 'GET', `${C}/rooms/${enc('!unknown:x')}/state`)).status, 403);
});

test('filterEventsForUser: batched over rooms, keeps order, reports membership, hides forgotten rooms', async () => {
  const r1 = (await h.call(alice, 'POST', `${C}/createRoom`, { preset: 'public_chat' })).json.room_id;
  const r2 = (await h.call(alice, 'POST', `${C}/createRoom`, { preset: 'public_chat' })).json.room_id;
  await setVisibility(r2, 'joined');
  const ids = [await say(alice, r1, 'one'), await say(alice, r2, 'two')];
  await post(carol, r1, 'join');
  await post(carol, r2, 'join');
  ids.push(await say(alice, r2, 'three'), await say(alice, r1, 'four'));
  const events = await h.service.store.getEventList(ids);
  const visible = await h.service.filterEventsForUser(carol, events);
  assert.deepEqual(
    visible.map((v) => [v.event.pdu.content.body, v.membership]),
    [
      ['one', 'leave'],
      ['three', 'join'],
      ['four', 'join'],
    ],
  );
  assert.deepEqual((await h.service.filterEventsForUser(alice, events)).length, 4);
  await post(carol, r1, 'leave');
  await post(carol, r1, 'forget');
  const afterForget = await h.service.filterEventsForUser(carol, events);
  assert.deepEqual(afterForget.map((v) => v.event.pdu.content.body), ['three']);
});
