/**
 * /sync over HTTP: initial and incremental timelines, no duplicates or gaps under concurrent sends,
 * limited timelines with prev_batch, state deltas, use_state_after, and parameter errors.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { decodeRoomToken, decodeSyncToken } from '@hs/core';
import { startHarness, timelineIds, V3, type TestUser } from './harness.ts';

const h = await startHarness();
const alice = await h.register('alice');
const bob = await h.register('bob');
test.after(() => h.close());

async function joinRoom(user: TestUser, roomId: string): Promise<void> {
  const r = await h.call(user, 'POST', `${V3}/join/${encodeURIComponent(roomId)}`, {});
  assert.equal(r.status, 200, JSON.stringify(r.json));
}

test('initial sync after createRoom and messages: the room, its timeline, state at its start, summary', async () => {
  const roomId = await h.createRoom(alice, { name: 'First', topic: 'hello', preset: 'public_chat' });
  const sent = [await h.send(alice, roomId, 'one'), await h.send(alice, roomId, 'two')];
  const res = await h.sync(alice);
  assert.equal(res.status, 200);
  const room = res.json.rooms.join[roomId];
  assert.ok(room, 'room in rooms.join');
  const ids = timelineIds(res.json, roomId);
  assert.deepEqual(ids.slice(-2), sent);
  // The default filter gives at most 10 events; createRoom wrote more than 8 here, so the timeline is limited.
  assert.ok(ids.length <= 10);
  const types = room.timeline.events.map((e: any) => e.type);
  assert.equal(room.timeline.events.every((e: any) => e.room_id === undefined && typeof e.event_id === 'string'), true);
  // State holds what the timeline does not start with: together they are the whole room state.
  const stateTypes = new Set(room.state.events.map((e: any) => `${e.type}|${e.state_key}`));
  for (const e of room.timeline.events) if (e.state_key !== undefined) assert.equal(stateTypes.has(`${e.type}|${e.state_key}`) && room.state.events.some((s: any) => s.event_id === e.event_id), false);
  const all = new Set([...stateTypes, ...room.timeline.events.filter((e: any) => e.state_key !== undefined).map((e: any) => `${e.type}|${e.state_key}`)]);
  for (const k of ['m.room.create|', `m.room.member|${alice.userId}`, 'm.room.power_levels|', 'm.room.join_rules|', 'm.room.name|', 'm.room.topic|']) assert.ok(all.has(k), `${k} in state or timeline`);
  assert.equal(types.at(-1), 'm.room.message');
  assert.equal(room.timeline.events.at(-1).unsigned.transaction_id !== undefined, true, 'own device sees its transaction_id');
  assert.deepEqual(room.summary, { 'm.joined_member_count': 1, 'm.invited_member_count': 0 });
  assert.match(res.json.next_batch, /^s/);
  assert.ok(res.json.account_data.events.some((e: any) => e.type === 'm.push_rules'), 'initial sync carries m.push_rules');
  assert.ok(res.json.presence.events.some((e: any) => e.sender === alice.userId && e.content.presence === 'online'), 'syncing marks the user online');
});

test('incremental syncs return exactly the new events across many rounds of concurrent sends', async () => {
  const roomA = await h.createRoom(alice, { preset: 'public_chat', name: 'A' });
  const roomB = await h.createRoom(bob, { preset: 'public_chat', name: 'B' });
  await joinRoom(bob, roomA);
  await joinRoom(alice, roomB);
  const filter = { room: { timeline: { limit: 100 } } };
  let since = (await h.sync(alice, { filter })).json.next_batch as string;
  const sent = new Set<string>();
  const seen: string[] = [];
  const collect = (body: any) => {
    for (const r of [roomA, roomB]) for (const id of timelineIds(body, r)) seen.push(id);
  };
  for (let round = 0; round < 12; round++) {
    const sends = Array.from({ length: 6 }, (_, i) => h.send(i % 2 ? bob : alice, i % 3 ? roomA : roomB, `r${round}m${i}`).then((id) => sent.add(id)));
    // Syncs run while the sends are in flight: each event must show up exactly once over the rounds.
    const res = await h.sync(alice, { since, filter });
    assert.equal(res.status, 200);
    collect(res.json);
    since = res.json.next_batch;
    await Promise.all(sends);
  }
  const last = await h.sync(alice, { since, filter });
  collect(last.json);
  assert.equal(seen.length, new Set(seen).size, 'no event delivered twice');
  assert.deepEqual(new Set(seen), sent, 'every event delivered');
  assert.equal(sent.size, 72);
  // Nothing new: the next sync is empty apart from next_batch and key counts.
  const idle = await h.sync(alice, { since: last.json.next_batch, filter });
  assert.equal(idle.json.rooms, undefined);
});

test('a limited incremental sync: newest events, limited, prev_batch before them, gap state in `state`', async () => {
  const roomId = await h.createRoom(alice, { preset: 'public_chat', name: 'Before' });
  await joinRoom(bob, roomId);
  const since = (await h.sync(bob)).json.next_batch;
  const gapName = await h.call(alice, 'PUT', `${V3}/rooms/${encodeURIComponent(roomId)}/state/m.room.name`, { name: 'During the gap' });
  assert.equal(gapName.status, 200);
  const msgs: string[] = [];
  for (let i = 0; i < 5; i++) msgs.push(await h.send(alice, roomId, `m${i}`));
  const res = await h.sync(bob, { since, filter: { room: { timeline: { limit: 3 } } } });
  const room = res.json.rooms.join[roomId];
  assert.deepEqual(timelineIds(res.json, roomId), msgs.slice(-3));
  assert.equal(room.timeline.limited, true);
  const prev = decodeRoomToken(room.timeline.prev_batch);
  assert.equal(typeof prev.topological, 'number');
  const first = await h.rooms.store.getEvent(msgs[2] as string);
  assert.equal(prev.stream.min, first?.streamOrdering);
  // The name changed in the gap: the state delta tells the client.
  assert.deepEqual(
    room.state.events.map((e: any) => [e.type, e.event_id]),
    [['m.room.name', gapName.json.event_id]],
  );
  // Not limited: nothing in state.
  const next = await h.sync(bob, { since: res.json.next_batch });
  assert.equal(next.json.rooms, undefined);
  const one = await h.send(alice, roomId, 'after');
  const small = await h.sync(bob, { since: next.json.next_batch });
  assert.deepEqual(timelineIds(small.json, roomId), [one]);
  assert.equal(small.json.rooms.join[roomId].timeline.limited, false);
  assert.deepEqual(small.json.rooms.join[roomId].state.events, []);
});

test('use_state_after: state_after replaces state (whole state initially, the change at the end incrementally)', async () => {
  const roomId = await h.createRoom(alice, { preset: 'public_chat', name: 'SA' });
  const initial = await h.sync(alice, { use_state_after: true, filter: { room: { rooms: [roomId] } } });
  const room = initial.json.rooms.join[roomId];
  assert.equal(room.state, undefined);
  const keys = room.state_after.events.map((e: any) => `${e.type}|${e.state_key}`);
  assert.ok(keys.includes('m.room.create|') && keys.includes('m.room.name|') && keys.includes(`m.room.member|${alice.userId}`));
  const topic = await h.call(alice, 'PUT', `${V3}/rooms/${encodeURIComponent(roomId)}/state/m.room.topic`, { topic: 't' });
  const inc = await h.sync(alice, { since: initial.json.next_batch, use_state_after: true });
  const r2 = inc.json.rooms.join[roomId];
  assert.equal(r2.state, undefined);
  // The topic change is in the timeline AND in state_after (clients take state only from state_after).
  assert.deepEqual(r2.state_after.events.map((e: any) => e.event_id), [topic.json.event_id]);
  assert.deepEqual(timelineIds(inc.json, roomId), [topic.json.event_id]);
  const plain = await h.sync(alice, { since: initial.json.next_batch });
  assert.deepEqual(plain.json.rooms.join[roomId].state.events, []);
  assert.equal(plain.json.rooms.join[roomId].state_after, undefined);
});

test('full_state: every room with its whole state, even with nothing new', async () => {
  const since = (await h.sync(alice)).json.next_batch;
  const res = await h.sync(alice, { since, full_state: true, timeout: 5000 });
  const joined = await h.call(alice, 'GET', `${V3}/joined_rooms`);
  assert.deepEqual(Object.keys(res.json.rooms.join).sort(), [...joined.json.joined_rooms].sort());
  for (const room of Object.values(res.json.rooms.join) as any[]) {
    assert.ok(room.state.events.some((e: any) => e.type === 'm.room.create') || room.timeline.events.some((e: any) => e.type === 'm.room.create'));
  }
});

test('bad since, filter, timeout, set_presence and booleans are 400 M_INVALID_PARAM; no token is 401', async () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ since: 'garbage' }, 'M_INVALID_PARAM'],
    [{ since: 's1_x' }, 'M_INVALID_PARAM'],
    [{ since: 'm1~99.5_0' }, 'M_INVALID_PARAM'],
    [{ since: 's1~77.9_0_0' }, 'M_INVALID_PARAM'],
    [{ filter: '42' }, 'M_INVALID_PARAM'],
    [{ filter: '{"room": {"timeline": {"limit": -1}}}' }, 'M_INVALID_PARAM'],
    [{ filter: '{"room": []}' }, 'M_INVALID_PARAM'],
    [{ filter: '{not json' }, 'M_NOT_JSON'],
    [{ timeout: 'soon' }, 'M_INVALID_PARAM'],
    [{ timeout: '-5' }, 'M_INVALID_PARAM'],
    [{ set_presence: 'busy' }, 'M_INVALID_PARAM'],
    [{ full_state: 'yes' }, 'M_INVALID_PARAM'],
    [{ use_state_after: '1' }, 'M_INVALID_PARAM'],
  ];
  for (const [params, errcode] of cases) {
    const res = await h.call(alice, 'GET', `${V3}/sync?${new URLSearchParams(params)}`);
    assert.equal(res.status, 400, JSON.stringify(params));
    assert.equal(res.json.errcode, errcode, JSON.stringify(params));
  }
  const anon = await h.call(undefined, 'GET', `${V3}/sync`);
  assert.equal(anon.status, 401);
  // r0 is served too.
  const r0 = await h.call(alice, 'GET', '/_matrix/client/r0/sync?timeout=0');
  assert.equal(r0.status, 200);
});

test('next_batch carries every stream position and never goes backwards', async () => {
  const a = await h.sync(alice);
  await h.send(alice, (await h.call(alice, 'GET', `${V3}/joined_rooms`)).json.joined_rooms[0], 'tick');
  const b = await h.sync(alice, { since: a.json.next_batch });
  const ta = decodeSyncToken(a.json.next_batch);
  const tb = decodeSyncToken(b.json.next_batch);
  assert.ok(tb.events.min > ta.events.min);
  for (const s of ['presence', 'receipts', 'account_data', 'push_rules', 'to_device', 'device_lists'] as const) assert.ok(tb[s].min >= ta[s].min, s);
});
