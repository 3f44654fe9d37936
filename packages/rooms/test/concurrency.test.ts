import test from 'node:test';
import assert from 'node:assert/strict';
import { MatrixError, silentLogger } from '@hs/core';
import { StreamWriter } from '@hs/storage';
import { RoomsService } from '../src/rooms-service.ts';
import type { StoredEvent } from '../src/stored-event.ts';
import { KEY, SERVER, startHarness } from './helpers.ts';
import type { Harness } from './helpers.ts';

let h: Harness;
test.before(async () => {
  h = await startHarness();
});
test.after(() => h.close());

const users = Array.from({ length: 10 }, (_, i) => `@u${i}:${SERVER}`);

async function publicRoom(service = h.service): Promise<string> {
  const { roomId } = await service.createRoom(users[0] as string, { preset: 'public_chat', room_version: '11' });
  for (const u of users.slice(1)) await service.updateMembership({ roomId, sender: u, target: u, action: 'join' });
  return roomId;
}

async function timeline(roomId: string): Promise<StoredEvent[]> {
  return h.service.store.getEventsInRoom(roomId, 0, Number.MAX_SAFE_INTEGER, 10_000, 'f');
}

/** One linear chain: each event's only prev is the one before it; depth and stream strictly increase. */
async function assertLinear(roomId: string): Promise<StoredEvent[]> {
  const events = await timeline(roomId);
  for (let i = 1; i < events.length; i++) {
    const prev = events[i - 1] as StoredEvent;
    const ev = events[i] as StoredEvent;
    assert.deepEqual(ev.pdu.prev_events, [prev.eventId], `event ${i} builds on the one before`);
    assert.equal(ev.topologicalOrdering, prev.topologicalOrdering + 1);
    assert.ok(ev.streamOrdering > prev.streamOrdering);
  }
  assert.deepEqual(await h.service.store.getForwardExtremities(roomId), [events.at(-1)?.eventId]);
  return events;
}

test('concurrent sends to one room: all persisted, in one linear chain, batched', async () => {
  const roomId = await publicRoom();
  let batches = 0;
  h.service.creator.onPersisted = () => batches++;
  const sends = Array.from({ length: 60 }, (_, i) =>
    h.service.sendMessageEvent({ roomId, sender: users[i % users.length] as string, type: 'm.room.message', content: { body: `msg ${i}` } }),
  );
  const ids = (await Promise.all(sends)).map((r) => r.eventId);
  h.service.creator.onPersisted = undefined;
  assert.equal(new Set(ids).size, 60);
  const events = await assertLinear(roomId);
  const bodies = events.filter((e) => e.type === 'm.room.message').map((e) => e.pdu.content.body);
  assert.equal(bodies.length, 60);
  assert.ok(batches < 60, `requests waiting on the room are persisted together (${batches} batches)`);
});

test('a refused send in a batch does not affect the others', async () => {
  const roomId = await publicRoom();
  const results = await Promise.allSettled(
    Array.from({ length: 20 }, (_, i) =>
      h.service.sendMessageEvent({ roomId, sender: i % 5 === 0 ? `@outsider${i}:${SERVER}` : (users[i % 10] as string), type: 'm.room.message', content: { body: i } }),
    ),
  );
  const refused = results.filter((r) => r.status === 'rejected');
  assert.equal(refused.length, 4);
  for (const r of refused) assert.equal(((r as PromiseRejectedResult).reason as MatrixError).httpStatus, 403);
  await assertLinear(roomId);
  assert.equal((await timeline(roomId)).filter((e) => e.type === 'm.room.message').length, 16);
});

test('two processes writing one room never fork it (stale extremities are rebuilt)', async () => {
  const writerB = await StreamWriter.open(h.db.sql, 'events', 'other', silentLogger);
  const other = new RoomsService({
    sql: h.db.sql,
    serverName: SERVER,
    log: silentLogger,
    notify: () => {},
    serverKey: KEY,
    eventsWriter: writerB,
    getProfile: async () => ({}),
  });
  const roomId = await publicRoom();
  const sends = [];
  for (let i = 0; i < 30; i++) {
    const service = i % 2 === 0 ? h.service : other;
    sends.push(service.sendMessageEvent({ roomId, sender: users[i % 10] as string, type: 'm.room.message', content: { body: i } }));
  }
  await Promise.all(sends);
  const events = await assertLinear(roomId);
  assert.equal(events.filter((e) => e.type === 'm.room.message').length, 30);
  const writers = await h.db.sql<{ instance_name: string }[]>`
    SELECT DISTINCT instance_name FROM events WHERE room_id = ${roomId} AND type = 'm.room.message'`;
  assert.equal(writers.length, 2, 'both processes persisted events');
  await writerB.flush();
});

test('a batch built on extremities that moved is rebuilt, not forked', async () => {
  const writerB = await StreamWriter.open(h.db.sql, 'events', 'third', silentLogger);
  const other = new RoomsService({ sql: h.db.sql, serverName: SERVER, log: silentLogger, notify: () => {}, serverKey: KEY, eventsWriter: writerB, getProfile: async () => ({}) });
  const roomId = await publicRoom();
  let runs = 0;
  const result = await h.service.creator.inRoom(roomId, async (draft) => {
    runs++;
    const mine = await draft.append({ sender: users[1] as string, type: 'm.room.message', content: { body: 'mine' } });
    // Another process gets in between our build and our persist, once.
    if (runs === 1) await other.sendMessageEvent({ roomId, sender: users[2] as string, type: 'm.room.message', content: { body: 'theirs' } });
    return mine.eventId;
  });
  assert.equal(runs, 2, 'the job ran again on the new extremities');
  const events = await assertLinear(roomId);
  assert.deepEqual(events.slice(-2).map((e) => e.pdu.content.body), ['theirs', 'mine']);
  assert.equal(events.at(-1)?.eventId, result);
  await writerB.flush();
});

test('identical v12 rooms created at once still get distinct room IDs', async () => {
  const created = await Promise.all(Array.from({ length: 5 }, () => h.service.createRoom(users[0] as string, {})));
  assert.equal(new Set(created.map((c) => c.roomId)).size, 5);
});

test('concurrent sends across rooms: stream orderings unique and increasing per room', async () => {
  const rooms = await Promise.all(Array.from({ length: 5 }, () => h.service.createRoom(users[0] as string, { preset: 'public_chat' })));
  await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      h.service.sendMessageEvent({ roomId: rooms[i % 5]?.roomId as string, sender: users[0] as string, type: 'm.room.message', content: { body: i } }),
    ),
  );
  const all: number[] = [];
  for (const { roomId } of rooms) {
    const events = await assertLinear(roomId);
    all.push(...events.map((e) => e.streamOrdering));
  }
  assert.equal(new Set(all).size, all.length);
  const notified = h.notified.filter((n) => n.stream === 'events');
  assert.ok(rooms.every(({ roomId }) => notified.some((n) => n.rooms?.includes(roomId))), 'each room was notified');
});
