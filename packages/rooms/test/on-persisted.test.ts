/** The persister's optional `onPersisted` hook: what it hears, when, and that its failures stay contained. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger, type Logger, type StreamChange } from '@hs/core';
import { openDatabase, StreamWriter } from '@hs/storage';
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
  await writer.flush();
  await db.close();
});

test('hears every written event in stream order, with the state it replaced, before notify', async () => {
  const { roomId } = await service.createRoom(alice, { preset: 'public_chat', room_version: '11' });
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
  const join = heard.flat()[0] as NewlyPersistedEvent;
  assert.equal(join.pdu.type, 'm.room.member');
  assert.equal(join.replacesState, undefined, 'bob had no member event before');
  heard.length = 0;
  const leave = await service.updateMembership({ roomId, sender: bob, target: bob, action: 'leave' });
  const ev = heard.flat()[0] as NewlyPersistedEvent;
  assert.equal(ev.eventId, leave.eventId);
  assert.equal(ev.replacesState, join.eventId, 'the leave replaced the join');

  heard.length = 0;
  const sent = await service.sendMessageEvent({ roomId, sender: alice, type: 'm.room.message', content: { msgtype: 'm.text', body: 'hi' } });
  assert.deepEqual(heard.flat().map((e) => [e.eventId, e.replacesState]), [[sent.eventId, undefined]]);
});

test('the hook runs after the commit and before the notification, holding the stream position; rooms run theirs concurrently', async () => {
  const a = await service.createRoom(alice, { room_version: '11' });
  const b = await service.createRoom(alice, { room_version: '11' });
  let release!: () => void;
  gate = new Promise<void>((r) => (release = r));
  order.length = 0;
  const before = writer.position;
  let settled = 0;
  const sends = [a.roomId, b.roomId].map((roomId) =>
    service.sendMessageEvent({ roomId, sender: alice, type: 'm.room.message', content: { msgtype: 'm.text', body: roomId } }).then((r) => {
      settled++;
      return r;
    }),
  );
  // Both rooms' batches reach the hook while it is held (they do not queue behind each other).
  for (let i = 0; i < 200 && writer.inFlightCount < 2; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(writer.inFlightCount, 2, 'both batches are committed and waiting in the hook with their IDs held');
  assert.equal(settled, 0, 'no send returns before its hook ran');
  assert.equal(order.length, 0, 'nothing is notified before the hook');
  assert.equal(writer.position, before, 'the stream position does not pass events whose hook has not run');
  release();
  gate = undefined;
  const [s1, s2] = await Promise.all(sends);
  assert.ok(s1?.eventId && s2?.eventId);
  assert.deepEqual(order.map((o) => o.split(':')[0]).sort(), ['hook', 'hook', 'notify', 'notify']);
  let hooks = 0;
  for (const o of order) {
    if (o.startsWith('hook')) hooks++;
    else assert.ok(hooks > 0, 'a notification only follows a hook');
  }
  assert.ok(writer.position > before);
});

test('duplicates are not reported; a failing hook is logged and the persist still succeeds', async () => {
  const { roomId } = await service.createRoom(alice, { room_version: '11' });
  heard.length = 0;
  failNext = true;
  const before = order.length;
  const sent = await service.sendMessageEvent({ roomId, sender: alice, type: 'm.room.message', content: { msgtype: 'm.text', body: 'x' } });
  assert.ok(sent.eventId);
  assert.deepEqual(errors, ['onPersisted hook failed']);
  assert.ok(order.slice(before).some((o) => o.startsWith('notify:')), 'notify still ran');

  // Persisting a stored event again writes nothing, so the hook is not called.
  const stored = await service.store.getEvent(sent.eventId);
  assert.ok(stored);
  heard.length = 0;
  const again = await persister.persist([{ pdu: stored.pdu, eventId: stored.eventId, roomId, roomVersion: '11', outlier: true }]);
  assert.equal(again.events[0]?.duplicate, true);
  assert.equal(heard.length, 0);

  // A batch that repeats a stored event and builds on it: the new event takes the stored one's state.
  const child = { ...stored.pdu, prev_events: [stored.eventId], depth: stored.pdu.depth + 1, content: { msgtype: 'm.text', body: 'child' } };
  const both = await persister.persist([
    { pdu: stored.pdu, eventId: stored.eventId, roomId, roomVersion: '11' },
    { pdu: child, eventId: '$child-of-a-duplicate', roomId, roomVersion: '11' },
  ]);
  assert.deepEqual(both.events.map((e) => e.duplicate), [true, false]);
  const groups = await service.store.state.groupsForEvents([stored.eventId, '$child-of-a-duplicate']);
  assert.equal(groups.get('$child-of-a-duplicate'), groups.get(stored.eventId));
});

test('message-only batches commit what is derived from them with the events; duplicates and state batches do not', async () => {
  const { roomId } = await service.createRoom(alice, { room_version: '11' });
  await db.sql`CREATE TABLE IF NOT EXISTS derived_probe (event_id text PRIMARY KEY, stream_ordering bigint)`;
  const seen: string[][] = [];
  const derivingWriter = await StreamWriter.open(db.sql, 'events', 'deriving', silentLogger);
  const hooked: string[] = [];
  const deriving = new LocalEventPersister({
    sql: db.sql,
    writer: derivingWriter,
    state: new StateStore(db.sql),
    serverName: SERVER,
    notify: () => {},
    log: silentLogger,
    onPersisted: (events) => void hooked.push(...events.map((e) => e.eventId)),
    deriveWithCommit: async (events) => {
      seen.push(events.map((e) => e.eventId));
      return (tx, orderings) => [...orderings].map(([id, pos]) => tx`INSERT INTO derived_probe VALUES (${id}, ${pos})`);
    },
  });
  const stored = await service.store.getEvent((await service.sendMessageEvent({ roomId, sender: alice, type: 'm.room.message', content: { msgtype: 'm.text', body: 'one' } })).eventId);
  assert.ok(stored);
  const child = { ...stored.pdu, prev_events: [stored.eventId], depth: stored.pdu.depth + 1, content: { msgtype: 'm.text', body: 'two' } };
  const result = await deriving.persist([
    { pdu: stored.pdu, eventId: stored.eventId, roomId, roomVersion: '11' },
    { pdu: child, eventId: '$derived-child', roomId, roomVersion: '11' },
  ]);
  assert.deepEqual(seen, [[stored.eventId, '$derived-child']], 'decided for the whole batch, before positions are known');
  const rows = await db.sql<{ event_id: string; stream_ordering: number }[]>`SELECT event_id, stream_ordering FROM derived_probe`;
  assert.deepEqual(rows.map((r) => [r.event_id, Number(r.stream_ordering)]), [['$derived-child', result.events[1]?.streamOrdering]], 'the duplicate is left out; the new event has its real position');
  assert.deepEqual(hooked, [], 'onPersisted is not called for a batch derived at commit');

  // A batch that changes state goes through onPersisted after the commit instead.
  const topic = { ...child, type: 'm.room.topic', state_key: '', prev_events: ['$derived-child'], depth: child.depth + 1, content: { topic: 't' } };
  await deriving.persist([{ pdu: topic, eventId: '$derived-topic', roomId, roomVersion: '11' }]);
  assert.equal(seen.length, 1);
  assert.deepEqual(hooked, ['$derived-topic']);
  await derivingWriter.flush();
});

test('planning that reads through the pool cannot starve: every connection may hold a batch at once', async () => {
  const rooms = await Promise.all([1, 2, 3, 4].map(() => service.createRoom(alice, { room_version: '11' })));
  const batches = await Promise.all(
    rooms.map(async ({ roomId }, i) => {
      const last = await service.store.getEvent((await service.sendMessageEvent({ roomId, sender: alice, type: 'm.room.message', content: { msgtype: 'm.text', body: 'x' } })).eventId);
      assert.ok(last);
      const pdu = { ...last.pdu, prev_events: [last.eventId], depth: last.pdu.depth + 1, content: { msgtype: 'm.text', body: `starve ${i}` } };
      return { pdu, eventId: `$starve-${i}`, roomId, roomVersion: '11' };
    }),
  );
  // Two connections for four rooms; planning takes two steps through the pool, as push rules do.
  const small = await openDatabase({ kind: 'postgres', ...db.target, poolMax: 2 }, { log: silentLogger, applicationName: 'starve-test' });
  const smallWriter = await StreamWriter.open(small.sql, 'events', 'starve', silentLogger);
  const starving = new LocalEventPersister({
    sql: small.sql,
    writer: smallWriter,
    state: new StateStore(small.sql),
    serverName: SERVER,
    notify: () => {},
    log: silentLogger,
    deriveWithCommit: async () => {
      await small.sql`SELECT 1`;
      await new Promise((r) => setTimeout(r, 20));
      await small.sql`SELECT 2`;
      return () => [];
    },
  });
  try {
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('persisting is stuck')), 10_000)));
    const results = await Promise.race([Promise.all(batches.map((b) => starving.persist([b]))), stuck]).finally(() => clearTimeout(timer));
    assert.equal((results as unknown[]).length, 4);
  } finally {
    await smallWriter.flush();
    await small.close();
  }
});
