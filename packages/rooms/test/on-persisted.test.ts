/** The persister's optional `onPersisted` hook: what it hears, when, and that its failures stay contained. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger, type Logger, type StreamChange } from '@hs/core';
import { StreamWriter } from '@hs/storage';
import { createTestDatabase, type TestDatabase } from '@hs/storage/testing';
import { LocalEventPersister, type NewlyPersistedEvent } from '../src/persister.ts';
import { RoomsService } from '../src/rooms-service.ts';
import { StateStore } from '../src/state-store.ts';
import { KEY, SERVER } from './helpers.ts';

const alice = `@alice:${SERVER}`;
const bob = `@bob:${SERVER}`;

let db: TestDatabase;
let writer: StreamWriter;
let service: RoomsService;
let persister: LocalEventPersister;
const heard: NewlyPersistedEvent[][] = [];
const order: string[] = [];
const errors: string[] = [];
let failNext = false;
let gate: Promise<void> | undefined;

test.before(async () => {
  db = await createTestDatabase();
  writer = await StreamWriter.open(db.sql, 'events', 'test', silentLogger);
  const log: Logger = { ...silentLogger, error: (msg: string) => void errors.push(msg) };
  const notify = (c: StreamChange): void => void order.push(`notify:${c.position}`);
  persister = new LocalEventPersister({
    sql: db.sql,
    writer,
    state: new StateStore(db.sql),
    serverName: SERVER,
    notify,
    log,
    onPersisted: async (events) => {
      if (gate) await gate;
      // The rows are committed: another connection sees them.
      const ids = events.map((e) => e.eventId);
      const rows = await db.sql`SELECT event_id FROM events WHERE event_id = ANY(${ids})`;
      assert.equal(rows.length, ids.length);
      order.push(`hook:${events.length}`);
      heard.push([...events]);
      if (failNext) {
        failNext = false;
        throw new Error('hook exploded');
      }
    },
  });
  service = new RoomsService({
    sql: db.sql,
    serverName: SERVER,
    log: silentLogger,
    notify,
    serverKey: KEY,
    eventsWriter: writer,
    getProfile: async () => ({}),
    persister,
  });
});
test.after(async () => {
  await persister.settled();
  await writer.flush();
  await db.close();
});

test('hears every written event in stream order, with the state it replaced, before notify', async () => {
  const { roomId } = await service.createRoom(alice, { preset: 'public_chat', room_version: '11' });
  await persister.settled();
  const created = heard.flat();
  assert.ok(created.length >= 5, 'createRoom writes several events');
  assert.deepEqual(
    created.map((e) => e.streamOrdering),
    [...created.map((e) => e.streamOrdering)].sort((a, b) => a - b),
  );
  assert.equal(created[0]?.pdu.type, 'm.room.create');
  assert.ok(created.every((e) => e.roomId === roomId && !e.outlier && !e.rejected));
  assert.equal(order.at(-2)?.startsWith('hook:'), true, 'hook ran before the notification');
  assert.equal(order.at(-1)?.startsWith('notify:'), true);

  heard.length = 0;
  await service.updateMembership({ roomId, sender: bob, target: bob, action: 'join' });
  await persister.settled();
  const join = heard.flat()[0] as NewlyPersistedEvent;
  assert.equal(join.pdu.type, 'm.room.member');
  assert.equal(join.replacesState, undefined, 'bob had no member event before');
  heard.length = 0;
  const leave = await service.updateMembership({ roomId, sender: bob, target: bob, action: 'leave' });
  await persister.settled();
  const ev = heard.flat()[0] as NewlyPersistedEvent;
  assert.equal(ev.eventId, leave.eventId);
  assert.equal(ev.replacesState, join.eventId, 'the leave replaced the join');

  heard.length = 0;
  const sent = await service.sendMessageEvent({ roomId, sender: alice, type: 'm.room.message', content: { msgtype: 'm.text', body: 'hi' } });
  await persister.settled();
  assert.deepEqual(heard.flat().map((e) => [e.eventId, e.replacesState]), [[sent.eventId, undefined]]);
});

test('persist does not wait for the hook; the notification waits for it, and hooks keep commit order', async () => {
  const { roomId } = await service.createRoom(alice, { room_version: '11' });
  await persister.settled();
  let release!: () => void;
  gate = new Promise<void>((r) => (release = r));
  order.length = 0;
  const first = await service.sendMessageEvent({ roomId, sender: alice, type: 'm.room.message', content: { msgtype: 'm.text', body: '1' } });
  const second = await service.sendMessageEvent({ roomId, sender: alice, type: 'm.room.message', content: { msgtype: 'm.text', body: '2' } });
  assert.ok(first.eventId && second.eventId, 'both sends returned while the first hook is held');
  assert.equal(order.length, 0, 'no hook finished and nothing was notified yet');
  release();
  await persister.settled();
  gate = undefined;
  assert.equal(order.length, 4);
  assert.deepEqual(order.map((o) => o.split(':')[0]), ['hook', 'notify', 'hook', 'notify']);
  const [, n1, , n2] = order.map((o) => Number(o.split(':')[1]));
  assert.ok((n1 as number) < (n2 as number), 'notifications in commit order');
});

test('duplicates are not reported; a failing hook is logged and the persist still succeeds', async () => {
  const { roomId } = await service.createRoom(alice, { room_version: '11' });
  await persister.settled();
  heard.length = 0;
  failNext = true;
  const before = order.length;
  const sent = await service.sendMessageEvent({ roomId, sender: alice, type: 'm.room.message', content: { msgtype: 'm.text', body: 'x' } });
  assert.ok(sent.eventId);
  await persister.settled();
  assert.deepEqual(errors, ['onPersisted hook failed']);
  assert.ok(order.slice(before).some((o) => o.startsWith('notify:')), 'notify still ran');

  // Persisting a stored event again writes nothing, so the hook is not called.
  const stored = await service.store.getEvent(sent.eventId);
  assert.ok(stored);
  heard.length = 0;
  const again = await persister.persist([{ pdu: stored.pdu, eventId: stored.eventId, roomId, roomVersion: '11', outlier: true }]);
  await persister.settled();
  assert.equal(again.events[0]?.duplicate, true);
  assert.equal(heard.length, 0);
});
