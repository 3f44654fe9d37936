/**
 * Long-polling: a waiting /sync returns promptly when another user sends, types or sends to-device
 * messages; with nothing to say it answers empty at the timeout; a client that goes away is let go.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { decodeSyncToken, encodeSyncToken } from '@hs/core';
import { startHarness, timelineIds, V3, type Harness, type TestUser } from './harness.ts';

let h: Harness;
let alice: TestUser;
let bob: TestUser;
let roomId: string;
test.before(async () => {
  h = await startHarness({ sync: { catchUpTimeoutMs: 300 } });
  alice = await h.register('alice');
  bob = await h.register('bob');
  roomId = await h.createRoom(alice, { preset: 'public_chat', name: 'Poll' });
  const j = await h.call(bob, 'POST', `${V3}/join/${encodeURIComponent(roomId)}`, {});
  assert.equal(j.status, 200);
});
test.after(async () => {
  await h.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a long-poll wakes within ~100 ms of a message from another user', async () => {
  const latencies: number[] = [];
  let since = (await h.sync(alice)).json.next_batch;
  for (let i = 0; i < 5; i++) {
    const started = Date.now();
    const poll = h.sync(alice, { since, timeout: 10_000 });
    await sleep(150);
    assert.equal(h.notifier.waitingCount, 1, 'the request is waiting');
    const eventId = await h.send(bob, roomId, `wake ${i}`);
    const sentAt = Date.now();
    const res = await poll;
    latencies.push(Date.now() - sentAt);
    assert.ok(Date.now() - started < 5000);
    assert.deepEqual(timelineIds(res.json, roomId), [eventId]);
    since = res.json.next_batch;
  }
  latencies.sort((a, b) => a - b);
  console.log(`send→sync wake latency ms: ${latencies.join(', ')}`);
  assert.ok((latencies[2] as number) < 150, `median wake latency ${latencies[2]} ms`);
  assert.equal(h.notifier.waitingCount, 0);
});

test('with nothing new, a long-poll answers empty at its timeout with a next_batch', async () => {
  const since = (await h.sync(alice)).json.next_batch;
  const started = Date.now();
  const res = await h.sync(alice, { since, timeout: 400 });
  const took = Date.now() - started;
  assert.equal(res.status, 200);
  assert.ok(took >= 390, `returned after ${took} ms`);
  assert.ok(took < 3000);
  assert.equal(res.json.rooms, undefined);
  assert.equal(res.json.presence, undefined);
  assert.equal(typeof res.json.next_batch, 'string');
  assert.ok(decodeSyncToken(res.json.next_batch).events.min >= decodeSyncToken(since).events.min);
});

test('typing and to-device messages wake a long-poll too', async () => {
  let since = (await h.sync(alice)).json.next_batch;
  let poll = h.sync(alice, { since, timeout: 10_000 });
  await sleep(100);
  let started = Date.now();
  const t = await h.call(bob, 'PUT', `${V3}/rooms/${encodeURIComponent(roomId)}/typing/${encodeURIComponent(bob.userId)}`, { typing: true, timeout: 20_000 });
  assert.equal(t.status, 200);
  let res = await poll;
  assert.ok(Date.now() - started < 1000);
  assert.deepEqual(res.json.rooms.join[roomId].ephemeral.events, [{ type: 'm.typing', content: { user_ids: [bob.userId] } }]);
  since = res.json.next_batch;

  poll = h.sync(alice, { since, timeout: 10_000 });
  await sleep(100);
  started = Date.now();
  const td = await h.call(bob, 'PUT', `${V3}/sendToDevice/m.test/txn1`, { messages: { [alice.userId]: { [alice.deviceId]: { hello: 'there' } } } });
  assert.equal(td.status, 200);
  res = await poll;
  assert.ok(Date.now() - started < 1000);
  assert.deepEqual(res.json.to_device.events, [{ type: 'm.test', sender: bob.userId, content: { hello: 'there' } }]);
});

test('a long-poll that only sees irrelevant changes keeps waiting, then returns the relevant one', async () => {
  const other = await h.createRoom(bob, { name: 'not for alice' });
  const since = (await h.sync(alice)).json.next_batch;
  const poll = h.sync(alice, { since, timeout: 10_000, filter: { room: { timeline: { not_types: ['m.room.message'] } } } });
  await sleep(100);
  await h.send(bob, other, 'elsewhere'); // a room alice is not in: does not wake her
  await h.send(bob, roomId, 'filtered out'); // wakes her, but her filter hides it: she keeps waiting
  await sleep(100);
  assert.equal(h.notifier.waitingCount, 1);
  const visible = await h.send(bob, roomId, 'a custom event', 'org.example.visible');
  const res = await poll;
  assert.deepEqual(timelineIds(res.json, roomId), [visible]);
});

test('a client that disconnects stops waiting', async () => {
  const since = (await h.sync(alice)).json.next_batch;
  const ac = new AbortController();
  const pending = fetch(`${h.app.baseUrl}${V3}/sync?since=${since}&timeout=20000`, { headers: { authorization: `Bearer ${alice.token}` }, signal: ac.signal }).catch(() => undefined);
  await sleep(100);
  assert.equal(h.notifier.waitingCount, 1);
  ac.abort();
  await pending;
  const deadline = Date.now() + 2000;
  while (h.notifier.waitingCount > 0 && Date.now() < deadline) await sleep(10);
  assert.equal(h.notifier.waitingCount, 0);
  assert.equal(h.notifier.keyCount, 0);
});

test('a since token ahead of this process: wait briefly, then an empty answer keeping the token', async () => {
  const cur = h.currentToken();
  const ahead = encodeSyncToken({ ...cur, events: { min: cur.events.min + 1000, ahead: new Map() } });
  const started = Date.now();
  const res = await h.sync(alice, { since: ahead });
  assert.equal(res.status, 200);
  assert.ok(Date.now() - started >= 290);
  assert.deepEqual(res.json, { next_batch: ahead });
});
