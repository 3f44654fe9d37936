import test from 'node:test';
import assert from 'node:assert/strict';
import { Notifier } from '../src/notifier.ts';

test('a change to a listened room or user wakes the waiter at once', async () => {
  const n = new Notifier();
  const l = n.listen('@a:x', ['!r1:x', '!r2:x']);
  const started = Date.now();
  setTimeout(() => n.notify({ stream: 'events', position: 5, rooms: ['!r2:x'] }), 20);
  assert.equal(await l.wait(5000), true);
  assert.ok(Date.now() - started < 1000);
  l.close();
  const u = n.listen('@a:x', []);
  setTimeout(() => n.notify({ stream: 'to_device', position: 1, users: ['@a:x'] }), 5);
  assert.equal(await u.wait(5000), true);
  u.close();
  assert.equal(n.position('events'), 5);
});

test('unrelated changes do not wake; the timeout resolves false', async () => {
  const n = new Notifier();
  const l = n.listen('@a:x', ['!r1:x']);
  n.notify({ stream: 'events', position: 1, rooms: ['!other:x'] });
  n.notify({ stream: 'to_device', position: 1, users: ['@b:x'] });
  const started = Date.now();
  assert.equal(await l.wait(100), false);
  assert.ok(Date.now() - started >= 95);
  l.close();
});

test('a change between listen and wait is not lost (listen first, then read, then wait)', async () => {
  const n = new Notifier();
  const l = n.listen('@a:x', ['!r1:x']);
  n.notify({ stream: 'events', position: 9, rooms: ['!r1:x'] }); // arrives while the request is still reading the DB
  assert.equal(l.fired, true);
  assert.equal(await l.wait(10_000), true);
  l.close();
});

test('closing releases everything; closing a waiting listener resolves it', async () => {
  const n = new Notifier();
  const listeners = Array.from({ length: 1000 }, (_, i) => n.listen(`@u${i}:x`, [`!r${i % 10}:x`]));
  assert.equal(n.keyCount, 1010);
  const pending = listeners[0]?.wait(60_000);
  assert.equal(n.waitingCount, 1);
  for (const l of listeners) l.close();
  assert.equal(await pending, false);
  assert.equal(n.keyCount, 0);
  assert.equal(n.waitingCount, 0);
});

test('one change wakes every waiter in the room (fan-out)', async () => {
  const n = new Notifier();
  const ls = Array.from({ length: 200 }, (_, i) => n.listen(`@u${i}:x`, ['!big:x']));
  const waits = ls.map((l) => l.wait(5000));
  n.notify({ stream: 'events', position: 1, rooms: ['!big:x'] });
  assert.deepEqual(new Set(await Promise.all(waits)), new Set([true]));
  for (const l of ls) l.close();
});
