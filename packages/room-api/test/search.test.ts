/** POST /search, POST /user_directory/search and the indexer behind them. */
import test from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '@hs/core';
import { silentLogger } from '@hs/core';
import { C, enc, startHarness, text, user } from './harness.ts';
import type { Harness } from './harness.ts';
import { assertResponseShape, specPresent } from '../../../e2e/support/openapi.ts';
import { RoomApiIndexer } from '../src/indexer.ts';

const alice = user('alice');
const bob = user('bob');
const carol = user('carol');

let h: Harness;
let shared: string;
let alone: string;
let foreign: string;
test.before(async () => {
  h = await startHarness();
  h.profiles.set(bob, { displayname: 'Robert Paulson', avatar_url: 'mxc://test.local/bob' });
  shared = await h.createRoom(alice, { preset: 'public_chat', name: 'Galaxy', topic: 'nebula watching' });
  await h.member(bob, shared, 'join');
  alone = await h.createRoom(alice, { preset: 'private_chat' });
  foreign = await h.createRoom(bob, { preset: 'private_chat' });
});
test.after(() => h.close());

const search = (token: string, roomEvents: JsonObject, nextBatch?: string) =>
  h.call(token, 'POST', `${C}/search${nextBatch ? `?next_batch=${enc(nextBatch)}` : ''}`, { search_categories: { room_events: roomEvents } });
const ids = (r: any): string[] => r.json.search_categories.room_events.results.map((x: JsonObject) => (x.result as JsonObject).event_id);

test('rank: the best match first, stemming, only joined rooms, highlights and count', async () => {
  const a = await h.send(alice, shared, text('the quick brown fox'));
  const b = await h.send(bob, shared, text('fox fox fox jumps over the fox'));
  const c = await h.send(alice, alone, text('many foxes are quick'));
  await h.send(alice, shared, text('lazy dog'));
  await h.send(bob, foreign, text('a fox alice cannot see'));
  const r = await search(alice, { search_term: 'fox' });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const got = ids(r);
  assert.equal(got[0], b);
  assert.deepEqual([...got].sort(), [a, b, c].sort());
  const re = r.json.search_categories.room_events;
  assert.equal(re.count, 3);
  assert.ok(re.results[0].rank >= re.results[1].rank && re.results[1].rank >= re.results[2].rank);
  assert.ok(re.highlights.includes('fox') && re.highlights.includes('foxes'), JSON.stringify(re.highlights));
  assert.equal(re.next_batch, undefined);
  // websearch syntax: quoted phrases and exclusions.
  assert.deepEqual(ids(await search(alice, { search_term: '"brown fox"' })), [a]);
  assert.deepEqual(ids(await search(alice, { search_term: 'fox -jumps -quick' })), []);
  assert.deepEqual(ids(await search(alice, { search_term: '' })), []);
});

test('both orders paginate with next_batch: every match once', async () => {
  const sent: string[] = [];
  for (let i = 0; i < 23; i++) sent.push(await h.send(i % 2 ? bob : alice, shared, text(`needle number ${i}`)));
  for (const order_by of ['recent', 'rank'] as const) {
    const seen: string[] = [];
    let next: string | undefined;
    for (let page = 0; page < 10; page++) {
      const r = await search(alice, { search_term: 'needle', order_by, filter: { limit: 10 } }, next);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      seen.push(...ids(r));
      assert.equal(r.json.search_categories.room_events.count, 23);
      next = r.json.search_categories.room_events.next_batch;
      if (!next) break;
    }
    assert.equal(seen.length, 23, order_by);
    assert.deepEqual([...seen].sort(), [...sent].sort(), order_by);
    if (order_by === 'recent') assert.deepEqual(seen, [...sent].reverse());
  }
  const wrongOrder = await search(alice, { search_term: 'needle', order_by: 'rank' }, (await search(alice, { search_term: 'needle', order_by: 'recent' })).json.search_categories.room_events.next_batch);
  assert.equal(wrongOrder.status, 400);
});

test('keys: room names and topics', async () => {
  const nameHit = ids(await search(alice, { search_term: 'galaxy', keys: ['content.name'] }));
  assert.equal(nameHit.length, 1);
  assert.equal((await h.rooms.store.getEvent(nameHit[0]!))?.type, 'm.room.name');
  assert.deepEqual(ids(await search(alice, { search_term: 'galaxy', keys: ['content.body'] })), []);
  assert.equal(ids(await search(alice, { search_term: 'nebula', keys: ['content.topic'] })).length, 1);
  assert.equal(ids(await search(alice, { search_term: 'nebula' })).length, 1, 'all keys by default');
});

test('filter, event context with profiles, current state and groupings', async () => {
  const before = await h.send(alice, shared, text('context before'));
  const hit = await h.send(bob, shared, text('unicorn sighting'));
  const after = await h.send(alice, shared, text('context after'));
  await h.send(alice, alone, text('unicorn in private'));
  const r = await search(alice, {
    search_term: 'unicorn',
    filter: { senders: [bob] },
    event_context: { before_limit: 1, after_limit: 1, include_profile: true },
    include_state: true,
    groupings: { group_by: [{ key: 'room_id' }, { key: 'sender' }] },
  });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const re = r.json.search_categories.room_events;
  assert.deepEqual(ids(r), [hit]);
  const ctx = re.results[0].context;
  assert.deepEqual(ctx.events_before.map((e: JsonObject) => e.event_id), [before]);
  assert.deepEqual(ctx.events_after.map((e: JsonObject) => e.event_id), [after]);
  assert.equal(ctx.profile_info[bob].displayname, 'Robert Paulson');
  assert.ok(typeof ctx.start === 'string' && typeof ctx.end === 'string');
  assert.ok(re.state[shared].some((e: JsonObject) => e.type === 'm.room.create'));
  assert.deepEqual(re.groups.room_id[shared].results, [hit]);
  assert.deepEqual(re.groups.sender[bob].results, [hit]);
  assert.deepEqual(ids(await search(alice, { search_term: 'unicorn', filter: { rooms: [alone] } })).length, 1);
  assert.deepEqual(ids(await search(alice, { search_term: 'unicorn', filter: { not_rooms: [alone, shared] } })), []);
  if (spec) assertResponseShape('search.yaml', '/search', 'post', 200, r.json);
});

test('a group next_batch continues within its group only', async () => {
  for (let i = 0; i < 4; i++) await h.send(alice, shared, text(`grouped word ${i}`));
  for (let i = 0; i < 4; i++) await h.send(alice, alone, text(`grouped word private ${i}`));
  const first = await search(alice, { search_term: 'grouped', order_by: 'recent', filter: { limit: 2 }, groupings: { group_by: [{ key: 'room_id' }] } });
  const groups = first.json.search_categories.room_events.groups.room_id;
  const [room, group] = Object.entries(groups)[0] as [string, any];
  const rest = await search(alice, { search_term: 'grouped', order_by: 'recent', filter: { limit: 10 }, groupings: { group_by: [{ key: 'room_id' }] } }, group.next_batch);
  assert.equal(rest.status, 200);
  const roomsSeen = new Set(rest.json.search_categories.room_events.results.map((x: any) => x.result.room_id));
  assert.deepEqual([...roomsSeen], [room]);
});

test('history visibility, redactions and left rooms limit what is found', async () => {
  const room = await h.createRoom(alice, { preset: 'public_chat' });
  await h.state(alice, room, 'm.room.history_visibility', { history_visibility: 'joined' });
  await h.send(alice, room, text('zebra before carol'));
  await h.member(carol, room, 'join');
  const visible = await h.send(alice, room, text('zebra after carol'));
  assert.deepEqual(ids(await search(carol, { search_term: 'zebra' })), [visible]);
  const gone = await h.send(alice, room, text('zebra to be redacted'));
  await h.ok(alice, 'PUT', `${C}/rooms/${enc(room)}/redact/${enc(gone)}/z1`, {});
  assert.ok(!ids(await search(alice, { search_term: 'zebra' })).includes(gone));
  await h.member(carol, room, 'leave');
  assert.deepEqual(ids(await search(carol, { search_term: 'zebra' })), []);
});

test('malformed /search requests are 400', async () => {
  const bodies: unknown[] = [
    {},
    { search_categories: { room_events: {} } },
    { search_categories: { room_events: { search_term: 5 } } },
    { search_categories: { room_events: { search_term: 'x', keys: ['content.nope'] } } },
    { search_categories: { room_events: { search_term: 'x', order_by: 'best' } } },
    { search_categories: { room_events: { search_term: 'x', filter: { limit: 0 } } } },
    { search_categories: { room_events: { search_term: 'x', filter: { senders: 'bob' } } } },
    { search_categories: { room_events: { search_term: 'x', event_context: { before_limit: -1 } } } },
    { search_categories: { room_events: { search_term: 'x', groupings: { group_by: [{ key: 'type' }] } } } },
    { search_categories: { room_events: { search_term: 'word '.repeat(20_000) } } },
  ];
  for (const body of bodies) {
    const r = await h.call(alice, 'POST', `${C}/search`, body);
    assert.equal(r.status, 400, `${JSON.stringify(body)} → ${JSON.stringify(r.json)}`);
  }
  assert.equal((await search(alice, { search_term: 'x' }, 'not-a-token')).status, 400);
  assert.deepEqual((await h.ok(alice, 'POST', `${C}/search`, { search_categories: {} })), { search_categories: {} });
});

test('user directory: users sharing a room or in public rooms, by user ID or display name prefix', async () => {
  const [dave, erin, frank] = [user('dave'), user('erin'), user('frank')];
  h.profiles.set(carol, { displayname: 'Carol Danvers' });
  h.profiles.set(erin, { displayname: 'Erin Hidden' });
  h.profiles.set(frank, { displayname: 'Frank Rodriguez' });
  const publicRoom = await h.createRoom(carol, { preset: 'public_chat' });
  const secret = await h.createRoom(dave, { preset: 'private_chat' });
  await h.member(dave, secret, 'invite', erin);
  await h.member(erin, secret, 'join');
  await h.createRoom(frank, { preset: 'private_chat', initial_state: [{ type: 'm.room.history_visibility', content: { history_visibility: 'world_readable' } }] });
  const find = async (term: string, limit?: number, token = alice) =>
    (await h.ok(token, 'POST', `${C}/user_directory/search`, { search_term: term, ...(limit !== undefined ? { limit } : {}) })) as { results: JsonObject[]; limited: boolean };
  const userIds = (r: { results: JsonObject[] }) => r.results.map((u) => u.user_id);

  assert.deepEqual((await find('bob')).results, [{ user_id: bob, display_name: 'Robert Paulson', avatar_url: 'mxc://test.local/bob' }]);
  assert.deepEqual(userIds(await find('rob')), [bob], 'display name prefix');
  assert.deepEqual(userIds(await find('paul')), [bob], 'any display name word');
  assert.deepEqual(userIds(await find('robert pa')), [bob]);
  assert.deepEqual(userIds(await find('carol')), [carol], 'in a public room');
  assert.deepEqual(userIds(await find('frank')), [frank], 'in a world_readable room');
  assert.deepEqual(userIds(await find('erin')), [], 'only in a private room alice is not in');
  assert.deepEqual(userIds(await find('hidden')), []);
  assert.deepEqual(userIds(await find('erin', undefined, dave)), [erin], 'dave shares the room');
  assert.deepEqual(userIds(await find(bob)), [bob], 'a full user ID');
  assert.deepEqual(userIds(await find('alice')), [alice], 'alice is in a public room herself');
  assert.deepEqual(userIds(await find('dave', undefined, dave)), [], 'not yourself through a private room only');
  const many = await find('r', 1);
  assert.equal(many.results.length, 1);
  assert.equal(many.limited, true);
  assert.deepEqual(await find('!!!'), { results: [], limited: false });
  // Leaving the only shared room hides you again.
  await h.member(erin, secret, 'leave');
  assert.deepEqual(userIds(await find('erin', undefined, dave)), []);
  await h.member(carol, publicRoom, 'leave');
  assert.deepEqual(userIds(await find('carol')), []);
  for (const body of [{}, { search_term: 5 }, { search_term: 'x', limit: 'ten' }, { search_term: 'x\u0000' }]) {
    const r = await h.call(alice, 'POST', `${C}/user_directory/search`, body);
    assert.equal(r.status, 400, JSON.stringify(body));
  }
  if (spec) assertResponseShape('users.yaml', '/user_directory/search', 'post', 200, await find('r', 1));
});

test('indexers take turns and never skip or double a range', async () => {
  const room = await h.createRoom(alice, { preset: 'public_chat' });
  const sends = Array.from({ length: 40 }, (_, i) => h.rooms.sendMessageEvent({ roomId: room, sender: alice, type: 'm.room.message', content: text(`parallel quokka ${i}`) }));
  const other = new RoomApiIndexer({ sql: h.db.sql, store: h.rooms.store, log: silentLogger, position: () => h.writer.position, batchSize: 7 });
  await Promise.all([...sends, other.catchUp(), h.indexer.catchUp(), other.catchUp()]);
  await Promise.all([other.catchUp(), h.indexer.catchUp()]);
  const [count] = await h.db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM event_search WHERE room_id = ${room}`;
  assert.equal(count?.n, 40);
  const [pos] = await h.db.sql<{ stream_id: number }[]>`SELECT stream_id FROM room_api_index_position`;
  assert.equal(Number(pos?.stream_id), h.writer.position);
  await other.close();
});

const spec = specPresent('room-api search');
