/**
 * Sync filters over HTTP: stored and inline filters, timeline type/sender/url filters with wildcards,
 * the server's timeline limit cap, state filters, event_fields, event_format, ignored users, and
 * lazy-loaded members (with redundancy tracking per device and the limited-gap rule).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, timelineIds, V3, type Harness, type TestUser } from './harness.ts';

let h: Harness;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let roomId: string;
const enc = encodeURIComponent;

test.before(async () => {
  h = await startHarness({ sync: { filterTimelineLimit: 5 } });
  alice = await h.register('alice');
  bob = await h.register('bob');
  carol = await h.register('carol');
  roomId = await h.createRoom(alice, { preset: 'public_chat', name: 'Filters' });
  for (const u of [bob, carol]) assert.equal((await h.call(u, 'POST', `${V3}/join/${enc(roomId)}`, {})).status, 200);
});
test.after(async () => {
  await h.close();
});

const only = (extra: object = {}) => ({ room: { rooms: [roomId], ...extra } });

test('a stored filter by ID; the timeline limit is capped by filter_timeline_limit', async () => {
  for (let i = 0; i < 7; i++) await h.send(bob, roomId, `m${i}`);
  const created = await h.call(alice, 'POST', `${V3}/user/${enc(alice.userId)}/filter`, { room: { rooms: [roomId], timeline: { limit: 2 } } });
  assert.equal(created.status, 200);
  const res = await h.sync(alice, { filter: created.json.filter_id });
  assert.equal(timelineIds(res.json, roomId).length, 2);
  assert.equal(res.json.rooms.join[roomId].timeline.limited, true);
  const capped = await h.sync(alice, { filter: only({ timeline: { limit: 1000 } }) });
  assert.equal(timelineIds(capped.json, roomId).length, 5, 'capped at the server limit (5 here)');
});

test('timeline types with wildcards, not_types, senders, not_senders and contains_url', async () => {
  const since = (await h.sync(alice, { filter: only() })).json.next_batch;
  const m1 = await h.send(bob, roomId, 'plain');
  const img = await h.call(carol, 'PUT', `${V3}/rooms/${enc(roomId)}/send/m.room.message/img1`, { msgtype: 'm.image', body: 'pic', url: 'mxc://x/y' });
  const custom = await h.send(bob, roomId, 'custom', 'org.example.thing');
  const ids = async (timeline: object) => timelineIds((await h.sync(alice, { since, filter: only({ timeline }) })).json, roomId);
  assert.deepEqual(await ids({ types: ['m.room.mess*'] }), [m1, img.json.event_id]);
  assert.deepEqual(await ids({ types: ['*.thing'] }), [custom]);
  assert.deepEqual(await ids({ not_types: ['m.*'] }), [custom]);
  assert.deepEqual(await ids({ types: [] }), []);
  assert.deepEqual(await ids({ senders: [carol.userId] }), [img.json.event_id]);
  assert.deepEqual(await ids({ not_senders: [bob.userId] }), [img.json.event_id]);
  assert.deepEqual(await ids({ contains_url: true }), [img.json.event_id]);
  assert.deepEqual(await ids({ contains_url: false }), [m1, custom]);
  assert.deepEqual(await ids({ not_rooms: [roomId] }), []);
});

test('state filter types, event_fields and event_format', async () => {
  const res = await h.sync(alice, { filter: only({ timeline: { limit: 1 }, state: { types: ['m.room.name', 'm.room.create'] } }) });
  const state = res.json.rooms.join[roomId].state.events;
  assert.deepEqual(state.map((e: any) => e.type).sort(), ['m.room.create', 'm.room.name']);
  const fields = await h.sync(alice, { filter: { ...only({ timeline: { limit: 1 } }), event_fields: ['type', 'content.body', 'unsigned.nope'] } });
  const ev = fields.json.rooms.join[roomId].timeline.events[0];
  assert.deepEqual(Object.keys(ev).sort(), ['content', 'type']);
  assert.deepEqual(Object.keys(ev.content), ev.content.body === undefined ? [] : ['body']);
  const fed = await h.sync(alice, { filter: { ...only({ timeline: { limit: 1 } }), event_format: 'federation' } });
  const pdu = fed.json.rooms.join[roomId].timeline.events[0];
  for (const k of ['auth_events', 'prev_events', 'depth', 'hashes', 'signatures', 'room_id', 'event_id', 'unsigned']) assert.ok(k in pdu, k);
  const client = await h.sync(alice, { filter: only({ timeline: { limit: 1 } }) });
  assert.equal('auth_events' in client.json.rooms.join[roomId].timeline.events[0], false);
});

test("an ignored user's messages are dropped, their state events kept", async () => {
  const since = (await h.sync(carol, { filter: only() })).json.next_batch;
  assert.equal((await h.call(carol, 'PUT', `${V3}/user/${enc(carol.userId)}/account_data/m.ignored_user_list`, { ignored_users: { [bob.userId]: {} } })).status, 200);
  const msg = await h.send(bob, roomId, 'you cannot see me');
  const profile = await h.call(bob, 'PUT', `${V3}/profile/${enc(bob.userId)}/displayname`, { displayname: 'Bobby' });
  assert.equal(profile.status, 200);
  const mine = await h.send(alice, roomId, 'visible');
  const res = await h.sync(carol, { since, filter: only() });
  const ids = timelineIds(res.json, roomId);
  assert.ok(!ids.includes(msg));
  assert.ok(ids.includes(mine));
  assert.ok(res.json.rooms.join[roomId].timeline.events.some((e: any) => e.type === 'm.room.member' && e.state_key === bob.userId && e.content.displayname === 'Bobby'));
  await h.call(carol, 'PUT', `${V3}/user/${enc(carol.userId)}/account_data/m.ignored_user_list`, { ignored_users: {} });
});

test('lazy-loading members: only senders (and the user) in state, redundant ones not re-sent, gap changes always sent', async () => {
  const ll = await h.createRoom(alice, { preset: 'public_chat', name: 'Lazy' });
  const dave = await h.register('dave');
  for (const u of [bob, carol, dave]) assert.equal((await h.call(u, 'POST', `${V3}/join/${enc(ll)}`, {})).status, 200);
  for (let i = 0; i < 3; i++) await h.send(bob, ll, `bob ${i}`);
  const filter = { room: { rooms: [ll], timeline: { limit: 2 }, state: { lazy_load_members: true } } };
  const members = (body: any) =>
    (body.rooms?.join?.[ll]?.state?.events ?? []).filter((e: any) => e.type === 'm.room.member').map((e: any) => e.state_key).sort();

  const initial = await h.sync(alice, { filter });
  assert.deepEqual(members(initial.json), [alice.userId, bob.userId].sort());
  // Without lazy-loading every member is there.
  const eager = await h.sync(alice, { filter: { room: { rooms: [ll], timeline: { limit: 2 } } } });
  assert.deepEqual(members(eager.json), [alice.userId, bob.userId, carol.userId, dave.userId].sort());

  await h.send(carol, ll, 'carol speaks');
  const inc1 = await h.sync(alice, { since: initial.json.next_batch, filter });
  assert.deepEqual(members(inc1.json), [carol.userId]);

  await h.send(bob, ll, 'bob again');
  const inc2 = await h.sync(alice, { since: inc1.json.next_batch, filter });
  assert.deepEqual(members(inc2.json), [], 'bob was already sent to this device');
  // Another device of alice has not seen bob's member event.
  const alice2 = await h.login('alice');
  const other = await h.sync(alice2, { since: inc1.json.next_batch, filter });
  assert.deepEqual(members(other.json), [bob.userId]);
  // include_redundant_members sends it every time.
  const redundant = { room: { rooms: [ll], timeline: { limit: 2 }, state: { lazy_load_members: true, include_redundant_members: true } } };
  assert.deepEqual(members((await h.sync(alice, { since: inc1.json.next_batch, filter: redundant })).json), [bob.userId]);

  // A limited sync: dave's profile change in the gap is sent although dave sends nothing.
  const since = inc2.json.next_batch;
  assert.equal((await h.call(dave, 'PUT', `${V3}/profile/${enc(dave.userId)}/displayname`, { displayname: 'Dave!' })).status, 200);
  for (let i = 0; i < 3; i++) await h.send(bob, ll, `more ${i}`);
  const gap = await h.sync(alice, { since, filter });
  assert.equal(gap.json.rooms.join[ll].timeline.limited, true);
  const daveEv = gap.json.rooms.join[ll].state.events.find((e: any) => e.state_key === dave.userId);
  assert.equal(daveEv?.content.displayname, 'Dave!');
  assert.ok(!members(gap.json).includes(bob.userId), 'bob is redundant');
});
