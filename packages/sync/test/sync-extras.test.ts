/**
 * The non-timeline parts of /sync: typing and receipts (ephemeral), global and room account data with
 * tags and push rules, presence, to-device messages (and their deletion once acknowledged), device-list
 * changes, one-time key counts and unused fallback key types.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { SyncComputer } from '../src/compute-sync.ts';
import { compileFilter } from '../src/filter.ts';
import { startHarness, V3, type Harness, type TestUser } from './harness.ts';

let h: Harness;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let roomId: string;
const enc = encodeURIComponent;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test.before(async () => {
  h = await startHarness();
  alice = await h.register('alice');
  bob = await h.register('bob');
  carol = await h.register('carol');
  roomId = await h.createRoom(alice, { preset: 'public_chat', name: 'Extras' });
  for (const u of [bob, carol]) assert.equal((await h.call(u, 'POST', `${V3}/join/${enc(roomId)}`, {})).status, 200);
});
test.after(async () => {
  await h.close();
});

test('typing: who is typing now, and the empty list when they stop', async () => {
  let since = (await h.sync(alice)).json.next_batch;
  await h.call(bob, 'PUT', `${V3}/rooms/${enc(roomId)}/typing/${enc(bob.userId)}`, { typing: true, timeout: 30_000 });
  let res = await h.sync(alice, { since });
  assert.deepEqual(res.json.rooms.join[roomId].ephemeral.events, [{ type: 'm.typing', content: { user_ids: [bob.userId] } }]);
  // Initial syncs show current typing.
  const initial = await h.sync(alice, { filter: { room: { rooms: [roomId] } } });
  assert.deepEqual(initial.json.rooms.join[roomId].ephemeral.events.filter((e: any) => e.type === 'm.typing'), [{ type: 'm.typing', content: { user_ids: [bob.userId] } }]);
  since = res.json.next_batch;
  await h.call(bob, 'PUT', `${V3}/rooms/${enc(roomId)}/typing/${enc(bob.userId)}`, { typing: false });
  res = await h.sync(alice, { since });
  assert.deepEqual(res.json.rooms.join[roomId].ephemeral.events, [{ type: 'm.typing', content: { user_ids: [] } }]);
  // The ephemeral filter can leave typing out.
  const none = await h.sync(alice, { filter: { room: { rooms: [roomId], ephemeral: { not_types: ['m.typing'] } } } });
  assert.equal(none.json.rooms.join[roomId].ephemeral.events.some((e: any) => e.type === 'm.typing'), false);
});

test('receipts: public ones for everyone, private ones only for their owner', async () => {
  const eventId = await h.send(alice, roomId, 'read me');
  const sinceA = (await h.sync(alice)).json.next_batch;
  const sinceB = (await h.sync(bob)).json.next_batch;
  assert.equal((await h.call(bob, 'POST', `${V3}/rooms/${enc(roomId)}/receipt/m.read/${enc(eventId)}`, {})).status, 200);
  assert.equal((await h.call(bob, 'POST', `${V3}/rooms/${enc(roomId)}/receipt/m.read.private/${enc(eventId)}`, {})).status, 200);
  const a = await h.sync(alice, { since: sinceA });
  const receipt = a.json.rooms.join[roomId].ephemeral.events.find((e: any) => e.type === 'm.receipt');
  assert.ok(receipt.content[eventId]['m.read'][bob.userId].ts > 0);
  assert.equal(receipt.content[eventId]['m.read.private'], undefined);
  const b = await h.sync(bob, { since: sinceB });
  const own = b.json.rooms.join[roomId].ephemeral.events.find((e: any) => e.type === 'm.receipt');
  assert.ok(own.content[eventId]['m.read.private'][bob.userId]);
  const initial = await h.sync(alice, { filter: { room: { rooms: [roomId] } } });
  assert.ok(initial.json.rooms.join[roomId].ephemeral.events.find((e: any) => e.type === 'm.receipt').content[eventId]);
});

test('account data: global, per room and tags, incrementally and initially; filters apply', async () => {
  const since = (await h.sync(alice)).json.next_batch;
  assert.equal((await h.call(alice, 'PUT', `${V3}/user/${enc(alice.userId)}/account_data/org.example.config`, { a: 1 })).status, 200);
  assert.equal((await h.call(alice, 'PUT', `${V3}/user/${enc(alice.userId)}/rooms/${enc(roomId)}/account_data/org.example.room`, { b: 2 })).status, 200);
  assert.equal((await h.call(alice, 'PUT', `${V3}/user/${enc(alice.userId)}/rooms/${enc(roomId)}/tags/m.favourite`, { order: 0.5 })).status, 200);
  const res = await h.sync(alice, { since });
  assert.deepEqual(res.json.account_data.events, [{ type: 'org.example.config', content: { a: 1 } }]);
  const roomData = res.json.rooms.join[roomId].account_data.events;
  assert.deepEqual(roomData.find((e: any) => e.type === 'org.example.room'), { type: 'org.example.room', content: { b: 2 } });
  assert.deepEqual(roomData.find((e: any) => e.type === 'm.tag'), { type: 'm.tag', content: { tags: { 'm.favourite': { order: 0.5 } } } });
  assert.deepEqual(res.json.rooms.join[roomId].timeline.events, [], 'included for its account data alone');
  const initial = await h.sync(alice, { filter: { account_data: { types: ['org.example.*'] }, room: { account_data: { types: ['m.tag'] } } } });
  assert.deepEqual(initial.json.account_data.events, [{ type: 'org.example.config', content: { a: 1 } }]);
  assert.deepEqual(initial.json.rooms.join[roomId].account_data.events.map((e: any) => e.type), ['m.tag']);
});

test('push rules: m.push_rules appears when they change, not otherwise', async () => {
  const since = (await h.sync(alice)).json.next_batch;
  const idle = await h.sync(alice, { since });
  assert.equal(idle.json.account_data, undefined);
  const put = await h.call(alice, 'PUT', `${V3}/pushrules/global/content/cheese`, { pattern: 'cheese', actions: ['notify'] });
  assert.equal(put.status, 200, JSON.stringify(put.json));
  const res = await h.sync(alice, { since: idle.json.next_batch });
  const rules = res.json.account_data.events.find((e: any) => e.type === 'm.push_rules');
  assert.ok(rules.content.global.content.some((r: any) => r.rule_id === 'cheese'));
});

test('presence: users sharing a room, changes wake long-polls', async () => {
  await h.sync(bob); // syncing marks bob online
  const initial = await h.sync(alice);
  assert.ok(initial.json.presence.events.some((e: any) => e.sender === bob.userId && e.content.presence === 'online'));
  const poll = h.sync(alice, { since: initial.json.next_batch, timeout: 10_000 });
  await sleep(100);
  const started = Date.now();
  assert.equal((await h.call(bob, 'PUT', `${V3}/presence/${enc(bob.userId)}/status`, { presence: 'unavailable', status_msg: 'away' })).status, 200);
  const res = await poll;
  assert.ok(Date.now() - started < 2000);
  const ev = res.json.presence.events.find((e: any) => e.sender === bob.userId);
  assert.equal(ev.content.presence, 'unavailable');
  assert.equal(ev.content.status_msg, 'away');
  const none = await h.sync(alice, { filter: { presence: { not_senders: [bob.userId] } } });
  assert.equal((none.json.presence?.events ?? []).some((e: any) => e.sender === bob.userId), false);
});

test('to-device: delivered in order, re-sent until acknowledged, deleted once the client syncs past them, 100 at a time', async () => {
  const s0 = (await h.sync(alice)).json.next_batch;
  for (let i = 0; i < 3; i++) {
    assert.equal((await h.call(bob, 'PUT', `${V3}/sendToDevice/m.test/td${i}`, { messages: { [alice.userId]: { [alice.deviceId]: { n: i } } } })).status, 200);
  }
  const first = await h.sync(alice, { since: s0 });
  assert.deepEqual(first.json.to_device.events.map((e: any) => e.content.n), [0, 1, 2]);
  assert.equal(first.json.to_device.events[0].sender, bob.userId);
  // The client did not acknowledge (same since again): the messages come again.
  const again = await h.sync(alice, { since: s0 });
  assert.deepEqual(again.json.to_device.events.map((e: any) => e.content.n), [0, 1, 2]);
  const pending = async () => Number((await h.db.sql`SELECT count(*)::int AS n FROM device_inbox WHERE user_id = ${alice.userId}`)[0]?.n);
  assert.equal(await pending(), 3);
  const acked = await h.sync(alice, { since: again.json.next_batch });
  assert.equal(acked.json.to_device, undefined);
  assert.equal(await pending(), 0, 'acknowledged messages are deleted');

  // A long queue comes 100 at a time.
  for (let i = 0; i < 105; i++) {
    await h.call(bob, 'PUT', `${V3}/sendToDevice/m.bulk/b${i}`, { messages: { [alice.userId]: { [alice.deviceId]: { n: i } } } });
  }
  const b1 = await h.sync(alice, { since: acked.json.next_batch });
  assert.equal(b1.json.to_device.events.length, 100);
  assert.equal(b1.json.to_device.events[99].content.n, 99);
  const b2 = await h.sync(alice, { since: b1.json.next_batch });
  assert.deepEqual(b2.json.to_device.events.map((e: any) => e.content.n), [100, 101, 102, 103, 104]);
  const b3 = await h.sync(alice, { since: b2.json.next_batch });
  assert.equal(b3.json.to_device, undefined);
  // Another device of the same user has its own queue.
  const alice2 = await h.login('alice');
  assert.equal((await h.sync(alice2)).json.to_device, undefined);
});

test('device lists: changed when someone sharing a room changes devices, left when they share no room any more', async () => {
  const since = (await h.sync(alice)).json.next_batch;
  await h.login('carol'); // a new device
  const res = await h.sync(alice, { since });
  assert.ok(res.json.device_lists.changed.includes(carol.userId));
  const initial = await h.sync(alice);
  assert.equal(initial.json.device_lists, undefined, 'only incremental syncs carry device_lists');
  const since2 = res.json.next_batch;
  assert.equal((await h.call(carol, 'POST', `${V3}/rooms/${enc(roomId)}/leave`, {})).status, 200);
  const left = await h.sync(alice, { since: since2 });
  assert.ok(left.json.device_lists.left.includes(carol.userId));
});

test('one-time key counts and unused fallback key types', async () => {
  const before = await h.sync(alice);
  assert.deepEqual(before.json.device_one_time_keys_count, { signed_curve25519: 0 });
  assert.deepEqual(before.json.device_unused_fallback_key_types, []);
  const up = await h.call(alice, 'POST', `${V3}/keys/upload`, {
    one_time_keys: { 'signed_curve25519:AAAA': { key: 'k1', signatures: {} }, 'signed_curve25519:AAAB': { key: 'k2', signatures: {} } },
    fallback_keys: { 'signed_curve25519:FFFF': { key: 'f1', fallback: true, signatures: {} } },
  });
  assert.equal(up.status, 200, JSON.stringify(up.json));
  const after = await h.sync(alice, { since: before.json.next_batch });
  assert.deepEqual(after.json.device_one_time_keys_count, { signed_curve25519: 2 });
  assert.deepEqual(after.json.device_unused_fallback_key_types, ['signed_curve25519']);
  // Claims by someone else show at the device's next sync (the counts are cached per process).
  const claim = () => h.call(bob, 'POST', `${V3}/keys/claim`, { one_time_keys: { [alice.userId]: { [alice.deviceId]: 'signed_curve25519' } } });
  assert.equal((await claim()).status, 200);
  const once = await h.sync(alice, { since: after.json.next_batch });
  assert.deepEqual(once.json.device_one_time_keys_count, { signed_curve25519: 1 });
  for (let i = 0; i < 2; i++) assert.equal((await claim()).status, 200);
  const drained = await h.sync(alice, { since: once.json.next_batch });
  assert.deepEqual(drained.json.device_one_time_keys_count, { signed_curve25519: 0 });
  assert.deepEqual(drained.json.device_unused_fallback_key_types, [], 'the fallback key was handed out');
});

test('set_presence: offline does not mark the user online, unavailable marks them idle', async () => {
  const dora = await h.register('dora');
  await h.sync(dora, { set_presence: 'offline' });
  const p1 = await h.call(dora, 'GET', `${V3}/presence/${enc(dora.userId)}/status`);
  assert.equal(p1.json.presence, 'offline');
  await h.sync(dora, { set_presence: 'unavailable' });
  const p2 = await h.call(dora, 'GET', `${V3}/presence/${enc(dora.userId)}/status`);
  assert.equal(p2.json.presence, 'unavailable');
  await h.sync(dora);
  const p3 = await h.call(dora, 'GET', `${V3}/presence/${enc(dora.userId)}/status`);
  assert.equal(p3.json.presence, 'unavailable', 'an idle user stays idle until they act');
});

test('unread notification counts: others\' messages count, threads apart when asked, mentions highlight, a receipt clears', async () => {
  const room = await h.createRoom(alice, { preset: 'public_chat', name: 'Counts' });
  assert.equal((await h.call(bob, 'POST', `${V3}/join/${enc(room)}`, {})).status, 200);
  const only = { room: { rooms: [room] } };
  const threadedFilter = { room: { rooms: [room], timeline: { unread_thread_notifications: true } } };
  let since = (await h.sync(alice, { filter: only })).json.next_batch;
  const send = async (content: object) => {
    const res = await h.call(bob, 'PUT', `${V3}/rooms/${enc(room)}/send/m.room.message/t${Math.random().toString(36).slice(2)}`, content);
    assert.equal(res.status, 200);
    return res.json.event_id as string;
  };
  const root = await send({ msgtype: 'm.text', body: 'root' });
  await send({ msgtype: 'm.text', body: 'in the thread', 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
  let res = await h.sync(alice, { filter: only, since });
  assert.deepEqual(res.json.rooms.join[room].unread_notifications, { notification_count: 2, highlight_count: 0 });
  assert.equal(res.json.rooms.join[room].unread_thread_notifications, undefined, 'threads only when the filter asks');
  since = res.json.next_batch;
  const mention = await send({ msgtype: 'm.text', body: 'hey alice', 'm.mentions': { user_ids: [alice.userId] } });
  res = await h.sync(alice, { filter: threadedFilter, since });
  assert.deepEqual(res.json.rooms.join[room].unread_notifications, { notification_count: 2, highlight_count: 1 }, 'the main timeline alone');
  assert.deepEqual(res.json.rooms.join[room].unread_thread_notifications, { [root]: { notification_count: 1, highlight_count: 0 } });
  since = res.json.next_batch;

  // Without the push domain's counts nothing is invented.
  const requester = { userId: alice.userId, deviceId: alice.deviceId, isGuest: false, isAdmin: false };
  const off = await new SyncComputer({ ...h.syncDeps, unreadCounts: false }).compute(
    { requester, filter: compileFilter(only), fullState: false, useStateAfter: false },
    h.currentToken(),
  );
  assert.equal((off.body.rooms as any).join[room].unread_notifications, undefined);

  assert.equal((await h.call(alice, 'POST', `${V3}/rooms/${enc(room)}/receipt/m.read/${enc(mention)}`, {})).status, 200);
  await send({ msgtype: 'm.text', body: 'after the receipt' });
  res = await h.sync(alice, { filter: only, since });
  assert.deepEqual(res.json.rooms.join[room].unread_notifications, { notification_count: 1, highlight_count: 0 }, 'only what came after the receipt');
});
