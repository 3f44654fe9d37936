import test from 'node:test';
import assert from 'node:assert/strict';
import type { StateKey, StateMap } from '@hs/events';
import { stateKey } from '@hs/events';
import { EventStore } from '../src/event-store.ts';
import { C, SERVER, enc, startHarness } from './helpers.ts';
import type { Harness } from './helpers.ts';

const MAX_CHAIN = 5;
let h: Harness;
test.before(async () => {
  h = await startHarness({ maxStateDeltaChain: MAX_CHAIN });
});
test.after(() => h.close());

const alice = `@alice:${SERVER}`;

function sorted(m: StateMap): Array<[StateKey, string]> {
  return [...m].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

test('state at every event stays right across many changes; chains are cut by full snapshots', async () => {
  const roomId = (await h.call(alice, 'POST', `${C}/createRoom`, { preset: 'public_chat', room_version: '11' })).json.room_id;
  const expected = new Map<string, Map<StateKey, string>>();
  let current = new Map(await h.service.store.getCurrentState(roomId));
  for (let i = 0; i < 40; i++) {
    let eventId: string;
    if (i % 4 === 3) {
      const r = await h.call(alice, 'PUT', `${C}/rooms/${enc(roomId)}/send/m.room.message/m${i}`, { body: `m${i}`, msgtype: 'm.text' });
      eventId = r.json.event_id;
    } else {
      const type = i % 2 === 0 ? 'm.room.name' : 'org.example.counter';
      const key = type === 'm.room.name' ? '' : `k${i % 3}`;
      const r = await h.call(alice, 'PUT', `${C}/rooms/${enc(roomId)}/state/${type}/${key}`, type === 'm.room.name' ? { name: `n${i}` } : { i });
      assert.equal(r.status, 200);
      eventId = r.json.event_id;
      current = new Map(current);
      current.set(stateKey(type, key), eventId);
    }
    expected.set(eventId, current);
  }
  assert.deepEqual(sorted(await h.service.store.getCurrentState(roomId)), sorted(current), 'current state matches the model');

  // Warm cache (this process persisted them) and cold cache (a fresh reader, like another worker).
  const cold = new EventStore(h.db.sql);
  for (const [eventId, want] of expected) {
    assert.deepEqual(sorted((await h.service.store.getStateAt(eventId)) ?? new Map()), sorted(want), `warm state at ${eventId}`);
    assert.deepEqual(sorted((await cold.getStateAt(eventId)) ?? new Map()), sorted(want), `cold state at ${eventId}`);
  }
  // Filtered reads through the recursive query agree with the full maps.
  const filter = [['org.example.counter', null], ['m.room.name', '']] as const;
  const fresh = new EventStore(h.db.sql);
  for (const [eventId, want] of expected) {
    const got = await fresh.getStateAt(eventId, filter);
    const wantFiltered = [...want].filter(([k]) => k.startsWith('org.example.counter\u0000') || k === stateKey('m.room.name', ''));
    assert.deepEqual(sorted(got ?? new Map()), sorted(new Map(wantFiltered)));
  }

  const groups = await h.db.sql<{ id: number; delta_depth: number; rows: number; edges: number }[]>`
    SELECT g.id, g.delta_depth,
      (SELECT count(*)::int FROM state_groups_state s WHERE s.state_group = g.id) AS rows,
      (SELECT count(*)::int FROM state_group_edges e WHERE e.state_group = g.id) AS edges
    FROM state_groups g WHERE g.room_id = ${roomId} ORDER BY g.id`;
  assert.ok(groups.length >= 30, 'one group per state event');
  assert.ok(Math.max(...groups.map((g) => g.delta_depth)) <= MAX_CHAIN, 'chains never exceed the limit');
  const snapshots = groups.filter((g) => g.delta_depth === 0);
  assert.ok(snapshots.length >= 5, `full snapshots are written (${snapshots.length})`);
  for (const [i, g] of groups.entries()) {
    if (g.delta_depth === 0) {
      assert.equal(g.edges, 0);
      const full = await cold.getStateGroupState(g.id);
      assert.equal(g.rows, full.size, 'a snapshot holds the whole state');
      if (i > 0) assert.ok(g.rows > 1);
    } else {
      assert.equal(g.edges, 1);
      assert.equal(g.rows, 1, 'a delta holds only the change');
    }
  }
  // The whole chain walk for the newest group is bounded too.
  const [walk] = await h.db.sql<{ n: number }[]>`
    WITH RECURSIVE chain(sg) AS (
      SELECT ${groups[groups.length - 1]?.id ?? 0}::bigint
      UNION ALL SELECT e.prev_state_group FROM chain c JOIN state_group_edges e ON e.state_group = c.sg)
    SELECT count(*)::int AS n FROM chain`;
  assert.ok((walk?.n ?? 99) <= MAX_CHAIN + 1);
});

test('state before an event puts back what it replaced; message events share the group before them', async () => {
  const roomId = (await h.call(alice, 'POST', `${C}/createRoom`, { room_version: '10' })).json.room_id;
  const name1 = (await h.call(alice, 'PUT', `${C}/rooms/${enc(roomId)}/state/m.room.name`, { name: 'a' })).json.event_id;
  const msg = (await h.call(alice, 'PUT', `${C}/rooms/${enc(roomId)}/send/m.room.message/x`, { body: 'x' })).json.event_id;
  const name2 = (await h.call(alice, 'PUT', `${C}/rooms/${enc(roomId)}/state/m.room.name`, { name: 'b' })).json.event_id;
  const nameKey = stateKey('m.room.name', '');
  assert.equal((await h.service.store.getStateBefore(name1))?.has(nameKey), false);
  assert.equal((await h.service.store.getStateAt(name1))?.get(nameKey), name1);
  assert.equal((await h.service.store.getStateBefore(name2))?.get(nameKey), name1);
  assert.equal((await h.service.store.getStateAt(name2))?.get(nameKey), name2);
  const groups = await h.service.store.state.groupsForEvents([name1, msg, name2]);
  assert.equal(groups.get(msg), groups.get(name1));
  assert.notEqual(groups.get(name2), groups.get(name1));
  const stored = await h.service.store.getEvent(name2);
  assert.equal(stored?.replacesState, name1);
  assert.equal(await h.service.store.getStateAt('$unknown'), undefined);
});

test('current state deltas and the events stream feed are readable by position', async () => {
  const from = h.writer.position;
  const roomId = (await h.call(alice, 'POST', `${C}/createRoom`, { room_version: '10' })).json.room_id;
  await h.call(alice, 'PUT', `${C}/rooms/${enc(roomId)}/send/m.room.message/feed`, { body: 'x' });
  const to = h.writer.position;
  const rows = await h.service.store.getEventsStream(from, to, 100);
  assert.ok(rows.length >= 7);
  assert.ok(rows.every((r, i) => i === 0 || r.streamOrdering > (rows[i - 1]?.streamOrdering ?? 0)));
  assert.equal(rows[0]?.type, 'm.room.create');
  assert.equal(rows[1]?.membership, 'join');
  assert.equal(rows.at(-1)?.type, 'm.room.message');
  const deltas = await h.service.store.getCurrentStateDeltas(from, to, [roomId]);
  assert.equal(deltas.length, rows.filter((r) => r.stateKey !== undefined).length);
  assert.deepEqual(deltas[0], { streamId: rows[0]?.streamOrdering, roomId, type: 'm.room.create', stateKey: '', eventId: rows[0]?.eventId, prevEventId: undefined });
  const recent = await h.service.store.getRecentEventsInRooms([roomId], from, to, 3);
  assert.deepEqual(recent.get(roomId)?.map((e) => e.streamOrdering), rows.slice(-3).reverse().map((r) => r.streamOrdering));
  const page = await h.service.store.paginateRoom(roomId, { topological: 1000, stream: to + 1 }, 'b', 2);
  assert.deepEqual(page.map((e) => e.type), ['m.room.message', 'm.room.guest_access']);
});
