import test from 'node:test';
import assert from 'node:assert/strict';
import { createE2eeReaders } from '../src/index.ts';
import { SERVER, startHarness, V3, type Harness } from './support.ts';

let h: Harness;
test.before(async () => {
  h = await startHarness();
});
test.after(() => h.close());

const send = (token: string, type: string, txn: string, messages: unknown) =>
  h.call('PUT', `${V3}/sendToDevice/${encodeURIComponent(type)}/${encodeURIComponent(txn)}`, { token, body: { messages } });

test('sendToDevice stores one message per device, is idempotent per sending device and txn, and notifies recipients', async () => {
  const alice = h.device(`@ta:${SERVER}`, 'TA1');
  const bob = `@tb:${SERVER}`;
  const b1 = h.device(bob, 'TB1');
  h.device(bob, 'TB2');
  const readers = createE2eeReaders(h.db.sql);
  const since = h.toDeviceWriter.position;
  const r = await send(alice.token, 'm.test', 'txn1', { [bob]: { TB1: { n: 1 } } });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, {});
  const note = h.notifications.findLast((n) => n.stream === 'to_device');
  assert.deepEqual(note?.users, [bob]);
  assert.equal(note?.position, h.toDeviceWriter.position);

  // A retry with the same txn ID stores nothing new; another device of the same user may reuse the ID.
  assert.equal((await send(alice.token, 'm.test', 'txn1', { [bob]: { TB1: { n: 1 } } })).status, 200);
  const a2 = h.device(alice.userId, 'TA2');
  assert.equal((await send(a2.token, 'm.test', 'txn1', { [bob]: { TB1: { n: 2 } } })).status, 200);
  const batch = await readers.getToDeviceMessages(bob, 'TB1', since, h.toDeviceWriter.position, 100);
  assert.deepEqual(batch.events, [
    { type: 'm.test', sender: alice.userId, content: { n: 1 } },
    { type: 'm.test', sender: alice.userId, content: { n: 2 } },
  ]);
  assert.equal(batch.nextStreamId, h.toDeviceWriter.position);
  assert.deepEqual((await readers.getToDeviceMessages(bob, 'TB2', since, h.toDeviceWriter.position, 100)).events, []);
  assert.ok(b1);
});

test('concurrent retries of one transaction store its messages once', async () => {
  const sender = h.device(`@cs:${SERVER}`, 'CS');
  const eve = `@ce:${SERVER}`;
  h.device(eve, 'E1');
  const readers = createE2eeReaders(h.db.sql);
  const since = h.toDeviceWriter.position;
  const results = await Promise.all(Array.from({ length: 8 }, () => send(sender.token, 'm.once', 'same-txn', { [eve]: { E1: { once: true } } })));
  assert.ok(results.every((r) => r.status === 200));
  const got = await readers.getToDeviceMessages(eve, 'E1', since, h.toDeviceWriter.position, 100);
  assert.equal(got.events.length, 1);
});

test('`*` fans out to every device of the user; a named device keeps its own message; unknown devices get nothing', async () => {
  const sender = h.device(`@fs:${SERVER}`, 'FS');
  const carol = `@fc:${SERVER}`;
  for (const d of ['C1', 'C2', 'C3']) h.device(carol, d);
  const readers = createE2eeReaders(h.db.sql);
  const since = h.toDeviceWriter.position;
  const r = await send(sender.token, 'm.fan', 'f1', { [carol]: { '*': { all: true }, C2: { just: 'c2' }, GHOST: { x: 1 } } });
  assert.equal(r.status, 200);
  const upTo = h.toDeviceWriter.position;
  const contents = await Promise.all(['C1', 'C2', 'C3', 'GHOST'].map(async (d) => (await readers.getToDeviceMessages(carol, d, since, upTo, 10)).events.map((e) => e.content)));
  assert.deepEqual(contents, [[{ all: true }], [{ just: 'c2' }], [{ all: true }], []]);
});

test('messages come back in order, in batches, and are deleted once acknowledged', async () => {
  const sender = h.device(`@os:${SERVER}`, 'OS');
  const dave = `@od:${SERVER}`;
  h.device(dave, 'D1');
  const readers = createE2eeReaders(h.db.sql);
  const since = h.toDeviceWriter.position;
  for (let i = 0; i < 5; i++) assert.equal((await send(sender.token, 'm.seq', `s${i}`, { [dave]: { D1: { i } } })).status, 200);
  const upTo = h.toDeviceWriter.position;
  const first = await readers.getToDeviceMessages(dave, 'D1', since, upTo, 3);
  assert.deepEqual(first.events.map((e) => e.content.i), [0, 1, 2]);
  assert.ok(first.nextStreamId < upTo);
  // The client syncs again with the token carrying nextStreamId: the first three are acknowledged.
  assert.equal(await readers.deleteToDeviceMessagesUpTo(dave, 'D1', first.nextStreamId), 3);
  const rest = await readers.getToDeviceMessages(dave, 'D1', first.nextStreamId, upTo, 3);
  assert.deepEqual(rest.events.map((e) => e.content.i), [3, 4]);
  assert.equal(rest.nextStreamId, upTo);
  // Even re-reading from the beginning, acknowledged messages are gone.
  assert.deepEqual((await readers.getToDeviceMessages(dave, 'D1', since, upTo, 10)).events.map((e) => e.content.i), [3, 4]);
  assert.equal(await readers.deleteToDeviceMessagesUpTo(dave, 'D1', upTo), 2);
  assert.deepEqual((await readers.getToDeviceMessages(dave, 'D1', since, upTo, 10)).events, []);
});

test('remote recipients are dropped with a log line; bad bodies and IDs are 4xx', async () => {
  const sender = h.device(`@rs:${SERVER}`, 'RS');
  const before = h.notifications.length;
  const r = await send(sender.token, 'm.remote', 'r1', { '@x:remote.example': { D: { a: 1 } } });
  assert.equal(r.status, 200);
  assert.ok(h.logLines.some((l) => l.includes('remote')));
  assert.equal(h.notifications.length, before);
  const bad: unknown[] = [undefined, 'x', { '@u:x': 'y' }, { '@u:x': { D: 'notobject' } }, { 'no-at': { D: {} } }, { [`@u:${SERVER}`]: { D: { s: 'a\u0000b' } } }];
  for (const [i, messages] of bad.entries()) {
    const res = await h.call('PUT', `${V3}/sendToDevice/m.x/bad${i}`, { token: sender.token, body: messages === undefined ? {} : { messages } });
    assert.ok(res.status >= 400 && res.status < 500, `${JSON.stringify(messages)} → ${res.status}`);
  }
  const noAuth = await h.call('PUT', `${V3}/sendToDevice/m.x/t`, { body: { messages: {} } });
  assert.equal(noAuth.status, 401);
  const getNotAllowed = await h.call('GET', `${V3}/sendToDevice/m.x/t`, { token: sender.token });
  assert.equal(getNotAllowed.status, 405);
});
