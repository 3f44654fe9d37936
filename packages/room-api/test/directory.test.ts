/** Aliases, the published room directory and /publicRooms over HTTP. */
import test from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '@hs/core';
import { C, SERVER, enc, startHarness, user } from './harness.ts';
import type { Harness } from './harness.ts';
import { assertResponseShape, specPresent } from '../../../e2e/support/openapi.ts';

const alice = user('alice');
const bob = user('bob');
const carol = user('carol');

let h: Harness;
let roomId: string;
test.before(async () => {
  h = await startHarness();
  roomId = await h.createRoom(alice, { preset: 'public_chat' });
  await h.member(bob, roomId, 'join');
});
test.after(() => h.close());

const aliasPath = (alias: string) => `${C}/directory/room/${enc(alias)}`;
const a = (local: string) => `#${local}:${SERVER}`;

test('aliases: create, resolve, conflicts and who may create', async () => {
  assert.deepEqual(await h.ok(bob, 'PUT', aliasPath(a('r1')), { room_id: roomId }), {});
  assert.deepEqual(await h.ok(undefined, 'GET', aliasPath(a('r1'))), { room_id: roomId, servers: [SERVER] });
  const taken = await h.call(alice, 'PUT', aliasPath(a('r1')), { room_id: roomId });
  assert.equal(taken.status, 409);
  assert.equal(taken.json.errcode, 'M_ROOM_IN_USE');
  assert.equal((await h.call(carol, 'PUT', aliasPath(a('c1')), { room_id: roomId })).status, 403, 'not in the room');
  const cases: Array<[string, unknown, number, string]> = [
    ['#elsewhere:other.example', { room_id: roomId }, 400, 'M_INVALID_PARAM'],
    ['#nocolon', { room_id: roomId }, 400, 'M_INVALID_PARAM'],
    ['noprefix:test.local', { room_id: roomId }, 400, 'M_INVALID_PARAM'],
    [`#:${SERVER}`, { room_id: roomId }, 400, 'M_INVALID_PARAM'],
    [a('x1'), {}, 400, 'M_MISSING_PARAM'],
    [a('x2'), { room_id: 5 }, 400, 'M_BAD_JSON'],
    [a('x3'), { room_id: 'not-a-room' }, 400, 'M_INVALID_PARAM'],
    [a('x4'), { room_id: '!unknown:test.local' }, 404, 'M_NOT_FOUND'],
    [a('x5\u0000'), { room_id: roomId }, 400, 'M_INVALID_PARAM'],
  ];
  for (const [alias, body, status, errcode] of cases) {
    const r = await h.call(bob, 'PUT', aliasPath(alias), body);
    assert.equal(r.status, status, `${alias} ${JSON.stringify(body)}: ${JSON.stringify(r.json)}`);
    assert.equal(r.json.errcode, errcode, alias);
  }
  assert.equal((await h.call(undefined, 'GET', aliasPath(a('missing')))).status, 404);
  assert.equal((await h.call(undefined, 'GET', aliasPath('#far:other.example'))).status, 404);
  assert.equal((await h.call(undefined, 'GET', aliasPath('#bad'))).status, 400);
  assert.equal((await h.call(undefined, 'PUT', aliasPath(a('anon')), { room_id: roomId })).status, 401);
});

test('aliases: listing is for members (or world_readable rooms)', async () => {
  await h.ok(alice, 'PUT', aliasPath(a('r2')), { room_id: roomId });
  const list = await h.ok(bob, 'GET', `${C}/rooms/${enc(roomId)}/aliases`);
  assert.deepEqual(list.aliases, [a('r1'), a('r2')]);
  assert.equal((await h.call(carol, 'GET', `${C}/rooms/${enc(roomId)}/aliases`)).status, 403);
  assert.deepEqual((await h.ok(`admin:${carol}`, 'GET', `${C}/rooms/${enc(roomId)}/aliases`)).aliases.length, 2);
  const open = await h.createRoom(alice, { preset: 'public_chat' });
  await h.state(alice, open, 'm.room.history_visibility', { history_visibility: 'world_readable' });
  assert.deepEqual(await h.ok(carol, 'GET', `${C}/rooms/${enc(open)}/aliases`), { aliases: [] });
  assert.equal((await h.call(carol, 'GET', `${C}/rooms/nope/aliases`)).status, 400);
});

test('aliases: the creator, room moderators and admins may delete; the canonical alias follows', async () => {
  await h.ok(bob, 'PUT', aliasPath(a('bobs')), { room_id: roomId });
  await h.ok(bob, 'PUT', aliasPath(a('canon')), { room_id: roomId });
  await h.state(alice, roomId, 'm.room.canonical_alias', { alias: a('canon'), alt_aliases: [a('r1')] });
  await h.member(carol, roomId, 'join');
  const denied = await h.call(carol, 'DELETE', aliasPath(a('bobs')));
  assert.equal(denied.status, 403);
  assert.deepEqual(await h.ok(bob, 'DELETE', aliasPath(a('bobs'))), {}, 'its creator');
  assert.equal((await h.call(undefined, 'GET', aliasPath(a('bobs')))).status, 404);
  // Alice is a room admin; deleting the canonical alias also clears it from the state event.
  await h.ok(alice, 'DELETE', aliasPath(a('canon')));
  const [canonical] = await h.rooms.store.getCurrentStateEvents(roomId, [['m.room.canonical_alias', '']]);
  assert.deepEqual(canonical?.pdu.content, { alt_aliases: [a('r1')] });
  await h.ok(alice, 'DELETE', aliasPath(a('r1')));
  const [after] = await h.rooms.store.getCurrentStateEvents(roomId, [['m.room.canonical_alias', '']]);
  assert.deepEqual(after?.pdu.content, { alt_aliases: [] });
  // A server admin who is not even in the room.
  assert.deepEqual(await h.ok(`admin:${user('root')}`, 'DELETE', aliasPath(a('r2'))), {});
  assert.equal((await h.call(alice, 'DELETE', aliasPath(a('r2')))).status, 404);
  assert.equal((await h.call(alice, 'DELETE', aliasPath('#x:other.example'))).status, 400);
});

test('published directory visibility: read by anyone, set by room moderators', async () => {
  const path = `${C}/directory/list/room/${enc(roomId)}`;
  assert.deepEqual(await h.ok(undefined, 'GET', path), { visibility: 'private' });
  assert.equal((await h.call(bob, 'PUT', path, { visibility: 'public' })).status, 403);
  await h.ok(alice, 'PUT', path, { visibility: 'public' });
  assert.deepEqual(await h.ok(undefined, 'GET', path), { visibility: 'public' });
  await h.ok(alice, 'PUT', path, { visibility: 'private' });
  await h.ok(alice, 'PUT', path, {});
  assert.deepEqual(await h.ok(undefined, 'GET', path), { visibility: 'public' }, 'public when left out');
  await h.ok(alice, 'PUT', path, { visibility: 'private' });
  assert.equal((await h.call(alice, 'PUT', path, { visibility: 'hidden' })).status, 400);
  const unknown = `${C}/directory/list/room/${enc('!unknown:test.local')}`;
  assert.equal((await h.call(undefined, 'GET', unknown)).status, 404);
  assert.equal((await h.call(alice, 'PUT', unknown, { visibility: 'public' })).status, 404);
});

test('/publicRooms: listed rooms, largest first, pages both ways, search and room types', async () => {
  const members = [user('m1'), user('m2'), user('m3'), user('m4')];
  const listed: Array<{ id: string; n: number }> = [];
  for (let i = 0; i < 7; i++) {
    const id = await h.createRoom(alice, {
      preset: 'public_chat',
      visibility: 'public',
      name: i === 2 ? 'Cheese lovers' : `room ${i}`,
      ...(i === 4 ? { topic: 'all about CHEESE' } : {}),
    });
    const n = 1 + (i % 4);
    for (const m of members.slice(0, n - 1)) await h.member(m, id, 'join');
    listed.push({ id, n });
  }
  const space = await h.createRoom(alice, { preset: 'public_chat', visibility: 'public', creation_content: { type: 'm.space' }, name: 'space' });
  listed.push({ id: space, n: 1 });
  // Published but invite-only: not listed; published and world_readable: listed.
  await h.createRoom(alice, { preset: 'private_chat', visibility: 'public', name: 'secret' });
  const readable = await h.createRoom(alice, {
    preset: 'private_chat',
    visibility: 'public',
    name: 'readable',
    initial_state: [{ type: 'm.room.history_visibility', content: { history_visibility: 'world_readable' } }],
  });
  listed.push({ id: readable, n: 1 });
  await h.state(alice, readable, 'm.room.avatar', { url: 'mxc://test.local/avatar' });
  await h.createRoom(alice, { preset: 'public_chat', name: 'unpublished' });
  const expected = [...listed].sort((x, y) => y.n - x.n || (x.id < y.id ? 1 : -1)).map((r) => r.id);

  const all = await h.ok(undefined, 'GET', `${C}/publicRooms`);
  assert.deepEqual(all.chunk.map((r: JsonObject) => r.room_id), expected);
  assert.equal(all.total_room_count_estimate, expected.length);
  assert.equal(all.next_batch, undefined);
  const cheese = all.chunk.find((r: JsonObject) => r.name === 'Cheese lovers');
  assert.deepEqual(
    { n: cheese.num_joined_members, jr: cheese.join_rule, wr: cheese.world_readable, g: cheese.guest_can_join },
    { n: 3, jr: 'public', wr: false, g: false },
  );
  const readableEntry = all.chunk.find((r: JsonObject) => r.room_id === readable);
  assert.equal(readableEntry.world_readable, true);
  assert.equal(readableEntry.avatar_url, 'mxc://test.local/avatar');
  assert.equal(readableEntry.join_rule, 'invite');
  assert.equal(all.chunk.find((r: JsonObject) => r.room_id === space).room_type, 'm.space');

  // Forwards in pages of 3, then back again with prev_batch.
  const pages: any[] = [];
  let since: string | undefined;
  for (;;) {
    const p = await h.ok(undefined, 'GET', `${C}/publicRooms?limit=3${since ? `&since=${enc(since)}` : ''}`);
    pages.push(p);
    if (!p.next_batch) break;
    since = p.next_batch;
  }
  assert.deepEqual(pages.flatMap((p) => p.chunk.map((r: JsonObject) => r.room_id)), expected);
  assert.equal(pages[0].prev_batch, undefined);
  const back = await h.ok(undefined, 'GET', `${C}/publicRooms?limit=3&since=${enc(pages.at(-1).prev_batch)}`);
  assert.deepEqual(back.chunk, pages.at(-2).chunk);
  assert.equal(typeof back.next_batch, 'string');

  const search = async (filter: JsonObject) =>
    (await h.ok(alice, 'POST', `${C}/publicRooms`, { filter })).chunk.map((r: JsonObject) => r.room_id);
  assert.deepEqual((await search({ generic_search_term: 'cheese' })).sort(), [listed[2]!.id, listed[4]!.id].sort());
  assert.deepEqual(await search({ generic_search_term: readable }), [readable]);
  assert.deepEqual(await search({ generic_search_term: '100%' }), []);
  assert.deepEqual(await search({ room_types: ['m.space'] }), [space]);
  assert.equal((await search({ room_types: [null] })).length, expected.length - 1);
  const page = await h.ok(alice, 'POST', `${C}/publicRooms`, { limit: 2, include_all_networks: true });
  assert.equal(page.chunk.length, 2);
  assert.deepEqual((await h.ok(alice, 'POST', `${C}/publicRooms`, { third_party_instance_id: 'irc|libera' })).chunk, []);
  assert.equal((await h.ok(alice, 'POST', `${C}/publicRooms?server=${SERVER}`, {})).chunk.length, expected.length);

  // Errors.
  const remote = await h.call(alice, 'POST', `${C}/publicRooms?server=other.example`, {});
  assert.equal(remote.status, 502);
  for (const [method, path, body, status] of [
    ['GET', `${C}/publicRooms?server=${enc('bad name!')}`, undefined, 400],
    ['GET', `${C}/publicRooms?limit=-1`, undefined, 400],
    ['GET', `${C}/publicRooms?limit=x`, undefined, 400],
    ['GET', `${C}/publicRooms?since=garbage`, undefined, 400],
    ['POST', `${C}/publicRooms`, { limit: 'x' }, 400],
    ['POST', `${C}/publicRooms`, { filter: { room_types: [5] } }, 400],
    ['POST', `${C}/publicRooms`, { third_party_instance_id: 'noseparator' }, 400],
  ] as const) {
    const r = await h.call(alice, method, path, body);
    assert.equal(r.status, status, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(r.json)}`);
  }
  assert.equal((await h.call(undefined, 'POST', `${C}/publicRooms`, {})).status, 401);

  const spec = specPresent('room-api publicRooms');
  if (spec) {
    assertResponseShape('list_public_rooms.yaml', '/publicRooms', 'get', 200, all);
    assertResponseShape('list_public_rooms.yaml', '/publicRooms', 'get', 200, back);
    assertResponseShape('list_public_rooms.yaml', '/directory/list/room/{roomId}', 'get', 200, await h.ok(undefined, 'GET', `${C}/directory/list/room/${enc(readable)}`));
    assertResponseShape('directory.yaml', '/directory/room/{roomAlias}', 'get', 200, { room_id: readable, servers: [SERVER] });
  }
});

test('the directory follows room state changes (name, members, topic)', async () => {
  const id = await h.createRoom(alice, { preset: 'public_chat', visibility: 'public', name: 'before' });
  const entry = async () => (await h.ok(undefined, 'GET', `${C}/publicRooms`)).chunk.find((r: JsonObject) => r.room_id === id);
  assert.equal((await entry()).name, 'before');
  await h.state(alice, id, 'm.room.name', { name: 'after' });
  await h.state(alice, id, 'm.room.topic', { topic: 'fallback', 'm.topic': { 'm.text': [{ mimetype: 'text/html', body: '<b>x</b>' }, { body: 'plain' }] } });
  await h.member(carol, id, 'join');
  const e = await entry();
  assert.deepEqual([e.name, e.topic, e.num_joined_members], ['after', 'plain', 2]);
  await h.member(carol, id, 'leave');
  const nameEvent = await h.state(alice, id, 'm.room.name', { name: 'to redact' });
  await h.ok(alice, 'PUT', `${C}/rooms/${enc(id)}/redact/${enc(nameEvent)}/n1`, {});
  const redacted = await entry();
  assert.equal(redacted.num_joined_members, 1);
  assert.equal(redacted.name, undefined, 'a redacted name is no name');
});

test('hostile tokens and terms are 400 or harmless, never 500', async () => {
  const big = Buffer.from(JSON.stringify(['f', 2 ** 40, '!x:y'])).toString('base64url');
  assert.equal((await h.call(undefined, 'GET', `${C}/publicRooms?since=${big}`)).status, 400);
  const long = await h.call(alice, 'POST', `${C}/publicRooms`, { filter: { generic_search_term: '%_\\'.repeat(5000) } });
  assert.equal(long.status, 200);
  assert.deepEqual(long.json.chunk, []);
});
