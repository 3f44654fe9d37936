/** GET /messages and GET /context over HTTP against the real rooms service. */
import test from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '@hs/core';
import { C, enc, startHarness, text, user } from './harness.ts';
import type { Harness } from './harness.ts';
import { assertResponseShape, specPresent } from '../../../e2e/support/openapi.ts';

let h: Harness;
test.before(async () => {
  h = await startHarness();
});
test.after(() => h.close());

const alice = user('alice');
const bob = user('bob');
const carol = user('carol');
const dave = user('dave');

const messages = (token: string, roomId: string, query: Record<string, string | number>) =>
  h.call(token, 'GET', `${C}/rooms/${enc(roomId)}/messages?${new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]))}`);

/** Follow `end` tokens until the server says there is nothing more; returns every event ID seen. */
async function drain(token: string, roomId: string, query: Record<string, string | number>): Promise<{ ids: string[]; pages: any[] }> {
  const ids: string[] = [];
  const pages: any[] = [];
  let q = { ...query };
  for (let i = 0; i < 500; i++) {
    const r = await messages(token, roomId, q);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    pages.push(r.json);
    ids.push(...r.json.chunk.map((e: JsonObject) => e.event_id as string));
    if (r.json.end === undefined) return { ids, pages };
    q = { ...q, from: r.json.end };
  }
  throw new Error('pagination did not end');
}

async function timelineIds(roomId: string): Promise<string[]> {
  return (await h.rooms.store.getEventsInRoom(roomId, 0, Number.MAX_SAFE_INTEGER, 10_000, 'f')).map((e) => e.eventId);
}

let bigRoom: string;
test('a room with a few hundred events', async () => {
  bigRoom = await h.createRoom(alice, { preset: 'public_chat', name: 'big' });
  for (let batch = 0; batch < 6; batch++) {
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        h.rooms.sendMessageEvent({ roomId: bigRoom, sender: alice, type: 'm.room.message', content: text(`message ${batch * 50 + i}`) }),
      ),
    );
  }
  assert.ok((await timelineIds(bigRoom)).length >= 306);
});

test('backwards from the end: every event exactly once, newest first, tokens chain', async () => {
  const expected = (await timelineIds(bigRoom)).reverse();
  const { ids, pages } = await drain(alice, bigRoom, { dir: 'b', limit: 7 });
  assert.deepEqual(ids, expected);
  for (let i = 1; i < pages.length; i++) assert.equal(pages[i].start, pages[i - 1].end, 'start echoes from');
  assert.match(pages[0].start, /^t\d+-\d+$/);
  assert.equal(pages.at(-1).end, undefined);
});

test('forwards from the start: every event exactly once, oldest first', async () => {
  const expected = await timelineIds(bigRoom);
  const { ids } = await drain(alice, bigRoom, { dir: 'f', limit: 13 });
  assert.deepEqual(ids, expected);
});

test('tokens round-trip: forwards from a backwards end token, and `to` bounds a range', async () => {
  const all = await timelineIds(bigRoom);
  const p1 = (await messages(alice, bigRoom, { dir: 'b', limit: 20 })).json;
  const p2 = (await messages(alice, bigRoom, { dir: 'b', limit: 20, from: p1.end })).json;
  const oldestOfP2 = p2.chunk.at(-1).event_id;
  const fwd = (await messages(alice, bigRoom, { dir: 'f', limit: 5, from: p2.end })).json;
  assert.equal(fwd.chunk[0].event_id, oldestOfP2, 'the boundary event comes first going forwards');
  // Between two tokens: backwards from the end to p1.end is exactly page 1.
  const bounded = await drain(alice, bigRoom, { dir: 'b', limit: 6, to: p1.end });
  assert.deepEqual(bounded.ids, p1.chunk.map((e: JsonObject) => e.event_id));
  // Forwards from p2.end up to p1.end: page 2 and the first event of... exactly page 2, oldest first.
  const between = await drain(alice, bigRoom, { dir: 'f', limit: 9, from: p2.end, to: p1.end });
  assert.deepEqual(between.ids, [...p2.chunk.map((e: JsonObject) => e.event_id)].reverse());
  assert.equal(all.length > 40, true);
});

test('a /sync stream token works as `from`', async () => {
  const events = await h.rooms.store.getEventsInRoom(bigRoom, 0, Number.MAX_SAFE_INTEGER, 10_000, 'f');
  const mid = events[100]!;
  for (const from of [`s${mid.streamOrdering}`, `s${mid.streamOrdering}_0_0_0_0_0_0_0_0`]) {
    const r = (await messages(alice, bigRoom, { dir: 'b', limit: 3, from })).json;
    assert.deepEqual(
      r.chunk.map((e: JsonObject) => e.event_id),
      [events[100]!.eventId, events[99]!.eventId, events[98]!.eventId],
    );
    assert.equal(r.start, from);
  }
  const fwd = (await messages(alice, bigRoom, { dir: 'f', limit: 2, from: `s${mid.streamOrdering}` })).json;
  assert.deepEqual(fwd.chunk.map((e: JsonObject) => e.event_id), [events[101]!.eventId, events[102]!.eventId]);
});

test('limit: default 10, zero gives an empty page that can continue', async () => {
  const r = (await messages(alice, bigRoom, { dir: 'b' })).json;
  assert.equal(r.chunk.length, 10);
  const zero = (await messages(alice, bigRoom, { dir: 'b', limit: 0 })).json;
  assert.deepEqual(zero.chunk, []);
  assert.equal(typeof zero.end, 'string');
  const huge = (await messages(alice, bigRoom, { dir: 'f', limit: 5000 })).json;
  assert.equal(huge.chunk.length, (await timelineIds(bigRoom)).length);
  assert.equal(huge.end, undefined);
});

test('filters apply in SQL: types with wildcards, senders, contains_url', async () => {
  const roomId = await h.createRoom(alice, { preset: 'public_chat' });
  await h.member(bob, roomId, 'join');
  await h.send(alice, roomId, text('a1'));
  await h.send(bob, roomId, { msgtype: 'm.image', body: 'pic', url: 'mxc://test.local/x' });
  await h.send(bob, roomId, text('b2'));
  await h.send(alice, roomId, { body: 'custom' }, 'org.example.custom');
  const q = (filter: unknown) => messages(alice, roomId, { dir: 'b', limit: 50, filter: JSON.stringify(filter) });
  const types = (r: any) => r.json.chunk.map((e: JsonObject) => e.type);
  assert.deepEqual(types(await q({ types: ['m.room.message'] })), ['m.room.message', 'm.room.message', 'm.room.message']);
  assert.deepEqual(types(await q({ types: ['org.*'] })), ['org.example.custom']);
  assert.ok(!types(await q({ not_types: ['m.room.*'] })).some((t: string) => t.startsWith('m.room.')));
  const fromBob = (await q({ senders: [bob], types: ['m.room.message'] })).json.chunk.map((e: JsonObject) => (e.content as JsonObject).body);
  assert.deepEqual(fromBob, ['b2', 'pic']);
  const withUrl = (await q({ contains_url: true })).json.chunk;
  assert.deepEqual(withUrl.map((e: JsonObject) => (e.content as JsonObject).body), ['pic']);
  assert.equal((await q({ not_senders: [alice, bob] })).json.chunk.length, 0);
  assert.equal((await q({ rooms: ['!other:test.local'] })).json.chunk.length, 0);
  // A filter that leaves little per page still paginates to the end with no duplicates.
  const { ids } = await drain(alice, roomId, { dir: 'f', limit: 1, filter: JSON.stringify({ types: ['m.room.message'] }) });
  assert.equal(ids.length, 3);
});

test('lazy_load_members: `state` carries the member events of the page senders only', async () => {
  const roomId = await h.createRoom(alice, { preset: 'public_chat' });
  await h.member(bob, roomId, 'join');
  await h.member(carol, roomId, 'join');
  await h.send(bob, roomId, text('from bob'));
  const r = (await messages(alice, roomId, { dir: 'b', limit: 1, filter: JSON.stringify({ lazy_load_members: true }) })).json;
  assert.equal(r.chunk[0].sender, bob);
  assert.deepEqual(
    r.state.map((e: JsonObject) => [e.type, e.state_key]),
    [['m.room.member', bob]],
  );
  const two = (await messages(alice, roomId, { dir: 'b', limit: 3, filter: JSON.stringify({ lazy_load_members: true }) })).json;
  const keys = two.state.map((e: JsonObject) => e.state_key).sort();
  assert.deepEqual(keys, [bob, carol].sort(), 'senders of the page: bob, and carol of her own join');
  const without = (await messages(alice, roomId, { dir: 'b', limit: 3 })).json;
  assert.equal(without.state, undefined);
});

test('a user who left sees the room up to their leave, both ways', async () => {
  const roomId = await h.createRoom(alice, { preset: 'public_chat' });
  await h.member(bob, roomId, 'join');
  const during = await h.send(alice, roomId, text('while bob is here'));
  await h.member(bob, roomId, 'leave');
  const leave = (await h.rooms.store.getMembership(roomId, bob))?.eventId as string;
  await h.send(alice, roomId, text('after bob left'));
  const back = (await messages(bob, roomId, { dir: 'b', limit: 2 })).json;
  assert.deepEqual(back.chunk.map((e: JsonObject) => e.event_id), [leave, during]);
  const fwd = await drain(bob, roomId, { dir: 'f', limit: 4 });
  assert.equal(fwd.ids.at(-1), leave, 'nothing after the leave');
  assert.ok(fwd.ids.includes(during));
  // Someone who was never in the (shared-history) room may not read it.
  assert.equal((await messages(dave, roomId, { dir: 'b' })).status, 403);
  // After forgetting, not even the old part.
  await h.member(bob, roomId, 'forget');
  assert.equal((await messages(bob, roomId, { dir: 'b' })).status, 403);
});

test('history visibility: joined-only history hides what came before the join; world_readable opens the room', async () => {
  const roomId = await h.createRoom(alice, { preset: 'public_chat' });
  await h.state(alice, roomId, 'm.room.history_visibility', { history_visibility: 'joined' });
  const before = await h.send(alice, roomId, text('before carol'));
  await h.member(carol, roomId, 'join');
  const after = await h.send(alice, roomId, text('after carol'));
  const seen = (await drain(carol, roomId, { dir: 'b', limit: 3 })).ids;
  assert.ok(seen.includes(after));
  assert.ok(!seen.includes(before));
  const wr = await h.createRoom(alice, { preset: 'public_chat' });
  await h.state(alice, wr, 'm.room.history_visibility', { history_visibility: 'world_readable' });
  const open = await h.send(alice, wr, text('for everyone'));
  const r = (await messages(dave, wr, { dir: 'b', limit: 1 })).json;
  assert.equal(r.chunk[0].event_id, open);
  assert.equal(r.chunk[0].unsigned.membership, 'leave');
});

test('malformed requests are 4xx', async () => {
  const cases: Array<[Record<string, string | number>, number, string]> = [
    [{ dir: 'x' }, 400, 'M_INVALID_PARAM'],
    [{ dir: 'b', from: 'garbage' }, 400, 'M_INVALID_PARAM'],
    [{ dir: 'b', from: 't12' }, 400, 'M_INVALID_PARAM'],
    [{ dir: 'b', from: 'tx-1' }, 400, 'M_INVALID_PARAM'],
    [{ dir: 'b', to: 's-5' }, 400, 'M_INVALID_PARAM'],
    [{ dir: 'b', limit: -1 }, 400, 'M_INVALID_PARAM'],
    [{ dir: 'b', limit: 'ten' }, 400, 'M_INVALID_PARAM'],
    [{ dir: 'b', filter: '{' }, 400, 'M_NOT_JSON'],
    [{ dir: 'b', filter: '[]' }, 400, 'M_INVALID_PARAM'],
    [{ dir: 'b', filter: '{"types":"m.room.message"}' }, 400, 'M_INVALID_PARAM'],
    [{ dir: 'b', filter: '{"lazy_load_members":"yes"}' }, 400, 'M_INVALID_PARAM'],
    [{ dir: 'b', from: 't1-1\u0000' }, 400, 'M_INVALID_PARAM'],
  ];
  for (const [q, status, errcode] of cases) {
    const r = await messages(alice, bigRoom, q);
    assert.equal(r.status, status, `${JSON.stringify(q)} → ${JSON.stringify(r.json)}`);
    assert.equal(r.json.errcode, errcode, JSON.stringify(q));
  }
  assert.equal((await h.call(alice, 'GET', `${C}/rooms/not-a-room/messages?dir=b`)).status, 400);
  assert.equal((await h.call(alice, 'GET', `${C}/rooms/${enc('!unknown:test.local')}/messages?dir=b`)).status, 403);
  assert.equal((await h.call(undefined, 'GET', `${C}/rooms/${enc(bigRoom)}/messages?dir=b`)).status, 401);
});

test('/context: events around, state after the last, tokens, filters and lazy members', async () => {
  const roomId = await h.createRoom(alice, { preset: 'public_chat' });
  await h.member(bob, roomId, 'join');
  const ids: string[] = [];
  for (let i = 0; i < 8; i++) ids.push(await h.send(i % 2 ? bob : alice, roomId, text(`c${i}`)));
  const target = ids[4]!;
  const r = await h.ok(alice, 'GET', `${C}/rooms/${enc(roomId)}/context/${enc(target)}?limit=4`);
  assert.equal(r.event.event_id, target);
  assert.deepEqual(r.events_before.map((e: JsonObject) => e.event_id), [ids[3], ids[2]]);
  assert.deepEqual(r.events_after.map((e: JsonObject) => e.event_id), [ids[5], ids[6]]);
  assert.ok(r.state.some((e: JsonObject) => e.type === 'm.room.create'));
  // The tokens continue where the context stops.
  const older = (await messages(alice, roomId, { dir: 'b', limit: 1, from: r.start })).json;
  assert.equal(older.chunk[0].event_id, ids[1]);
  const newer = (await messages(alice, roomId, { dir: 'f', limit: 1, from: r.end })).json;
  assert.equal(newer.chunk[0].event_id, ids[7]);
  // limit=0 still returns the event; the filter applies around it, not to it.
  const zero = await h.ok(alice, 'GET', `${C}/rooms/${enc(roomId)}/context/${enc(target)}?limit=0`);
  assert.equal(zero.event.event_id, target);
  assert.deepEqual([zero.events_before, zero.events_after], [[], []]);
  const onlyBob = await h.ok(alice, 'GET', `${C}/rooms/${enc(roomId)}/context/${enc(target)}?limit=4&filter=${enc(JSON.stringify({ senders: [bob], lazy_load_members: true }))}`);
  assert.equal(onlyBob.event.sender, alice);
  assert.ok([...onlyBob.events_before, ...onlyBob.events_after].every((e: JsonObject) => e.sender === bob));
  assert.deepEqual(onlyBob.state.map((e: JsonObject) => e.state_key), [bob], 'lazy state, filtered by sender');
  // Unknown, foreign and invisible events are 404; malformed IDs 400.
  assert.equal((await h.call(alice, 'GET', `${C}/rooms/${enc(roomId)}/context/${enc('$nope')}`)).status, 404);
  assert.equal((await h.call(alice, 'GET', `${C}/rooms/${enc(bigRoom)}/context/${enc(target)}`)).status, 404);
  assert.equal((await h.call(alice, 'GET', `${C}/rooms/${enc(roomId)}/context/nope`)).status, 400);
  assert.equal((await h.call(alice, 'GET', `${C}/rooms/${enc(roomId)}/context/${enc(target)}?limit=-2`)).status, 400);
  await h.member(bob, roomId, 'leave');
  const late = await h.send(alice, roomId, text('after bob left'));
  assert.equal((await h.call(bob, 'GET', `${C}/rooms/${enc(roomId)}/context/${enc(late)}`)).status, 404);
  const bobs = await h.ok(bob, 'GET', `${C}/rooms/${enc(roomId)}/context/${enc(ids[7]!)}?limit=10`);
  assert.ok(!bobs.events_after.some((e: JsonObject) => e.event_id === late), 'nothing after his leave');
});

test('response shapes match the spec', async () => {
  const spec = specPresent('room-api messages');
  if (!spec) return;
  const page = (await messages(alice, bigRoom, { dir: 'b', limit: 5, filter: JSON.stringify({ lazy_load_members: true }) })).json;
  assertResponseShape('message_pagination.yaml', '/rooms/{roomId}/messages', 'get', 200, page);
  const ev = page.chunk[2].event_id;
  const ctx = await h.ok(alice, 'GET', `${C}/rooms/${enc(bigRoom)}/context/${enc(ev)}?limit=4`);
  assertResponseShape('event_context.yaml', '/rooms/{roomId}/context/{eventId}', 'get', 200, ctx);
});
