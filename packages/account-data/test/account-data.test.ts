import test from 'node:test';
import assert from 'node:assert/strict';
import { getAccountDataUpdates, getIgnoredUsers, getRoomAccountData } from '../src/account-data-store.ts';
import { responseValidator, specPresent } from '../../../e2e/support/openapi.ts';
import { enc, startHarness, type Harness } from './support.ts';

const haveSpec = specPresent('spec shape checks in account-data.test.ts');

const ALICE = '@alice:test';
const BOB = '@bob:test';
const ROOM = '!room:test';
const ROOM2 = '!room2:test';
const C = '/_matrix/client/v3';
const globalPath = (user: string, type: string) => `${C}/user/${enc(user)}/account_data/${enc(type)}`;
const roomPath = (user: string, room: string, type: string) => `${C}/user/${enc(user)}/rooms/${enc(room)}/account_data/${enc(type)}`;
const tagsPath = (user: string, room: string) => `${C}/user/${enc(user)}/rooms/${enc(room)}/tags`;
const tagPath = (user: string, room: string, tag: string) => `${tagsPath(user, room)}/${enc(tag)}`;

let h: Harness;
test.before(async () => {
  h = await startHarness();
});
test.after(() => h.close());

test('global account data: PUT then GET, replaced by a later PUT, notified on the account_data stream', async () => {
  h.changes.length = 0;
  assert.deepEqual(await h.call('PUT', globalPath(ALICE, 'org.example.config'), { as: ALICE, body: { a: 1, nested: { b: [true] } } }), { status: 200, json: {} });
  assert.deepEqual(await h.call('GET', globalPath(ALICE, 'org.example.config'), { as: ALICE }), { status: 200, json: { a: 1, nested: { b: [true] } } });
  await h.call('PUT', globalPath(ALICE, 'org.example.config'), { as: ALICE, body: { a: 2 } });
  assert.deepEqual((await h.call('GET', globalPath(ALICE, 'org.example.config'), { as: ALICE })).json, { a: 2 });
  assert.equal(h.changes.length, 2);
  assert.deepEqual(h.changes[1], { stream: 'account_data', position: h.stream.position, users: [ALICE] });
  // The r0 prefix is the same endpoint.
  assert.equal((await h.call('GET', `/_matrix/client/r0/user/${enc(ALICE)}/account_data/org.example.config`, { as: ALICE })).status, 200);
});

test('global account data errors: 403 for others, 405 for server-managed types, 400 for bad bodies, 404 when unset', async () => {
  for (const method of ['GET', 'PUT']) {
    const res = await h.call(method, globalPath(BOB, 'org.example.config'), { as: ALICE, body: method === 'PUT' ? {} : undefined });
    assert.deepEqual([res.status, res.json.errcode], [403, 'M_FORBIDDEN'], method);
  }
  for (const type of ['m.fully_read', 'm.push_rules']) {
    const res = await h.call('PUT', globalPath(ALICE, type), { as: ALICE, body: { x: 1 } });
    assert.deepEqual([res.status, res.json.errcode], [405, 'M_BAD_JSON'], type);
  }
  const arrayBody = await h.call('PUT', globalPath(ALICE, 'x.y'), { as: ALICE, raw: '[1,2]' });
  assert.deepEqual([arrayBody.status, arrayBody.json.errcode], [400, 'M_BAD_JSON']);
  const stringBody = await h.call('PUT', globalPath(ALICE, 'x.y'), { as: ALICE, raw: '"hello"' });
  assert.deepEqual([stringBody.status, stringBody.json.errcode], [400, 'M_BAD_JSON']);
  const notJson = await h.call('PUT', globalPath(ALICE, 'x.y'), { as: ALICE, raw: 'not json' });
  assert.deepEqual([notJson.status, notJson.json.errcode], [400, 'M_NOT_JSON']);
  const empty = await h.call('PUT', globalPath(ALICE, 'x.y'), { as: ALICE });
  assert.deepEqual([empty.status, empty.json.errcode], [400, 'M_NOT_JSON']);
  const missing = await h.call('GET', globalPath(ALICE, 'never.set'), { as: ALICE });
  assert.deepEqual([missing.status, missing.json.errcode], [404, 'M_NOT_FOUND']);
  assert.equal((await h.call('GET', globalPath(ALICE, 'x.y'), { as: ALICE })).status, 404, 'failed writes stored nothing');
  assert.equal((await h.call('GET', globalPath(ALICE, 'x.y'))).status, 401);
});

test('GET m.push_rules answers the push rules from the push domain', async () => {
  h.rooms.pushRules.set(ALICE, { global: { override: [] } });
  assert.deepEqual(await h.call('GET', globalPath(ALICE, 'm.push_rules'), { as: ALICE }), { status: 200, json: { global: { override: [] } } });
});

test('room account data: PUT/GET per room, invalid room IDs 400, server-managed types 405', async () => {
  assert.equal((await h.call('PUT', roomPath(ALICE, ROOM, 'org.example.pref'), { as: ALICE, body: { v: 'room1' } })).status, 200);
  assert.equal((await h.call('PUT', roomPath(ALICE, ROOM2, 'org.example.pref'), { as: ALICE, body: { v: 'room2' } })).status, 200);
  assert.deepEqual((await h.call('GET', roomPath(ALICE, ROOM, 'org.example.pref'), { as: ALICE })).json, { v: 'room1' });
  assert.deepEqual((await h.call('GET', roomPath(ALICE, ROOM2, 'org.example.pref'), { as: ALICE })).json, { v: 'room2' });
  const notGlobal = await h.call('GET', globalPath(ALICE, 'org.example.pref'), { as: ALICE });
  assert.equal(notGlobal.status, 404, 'room data is not global data');
  for (const method of ['GET', 'PUT']) {
    const bad = await h.call(method, roomPath(ALICE, '@notaroom:test', 'org.example.pref'), { as: ALICE, body: method === 'PUT' ? {} : undefined });
    assert.deepEqual([bad.status, bad.json.errcode], [400, 'M_INVALID_PARAM'], method);
    const other = await h.call(method, roomPath(BOB, ROOM, 'org.example.pref'), { as: ALICE, body: method === 'PUT' ? {} : undefined });
    assert.deepEqual([other.status, other.json.errcode], [403, 'M_FORBIDDEN'], method);
  }
  const fullyRead = await h.call('PUT', roomPath(ALICE, ROOM, 'm.fully_read'), { as: ALICE, body: { event_id: '$x' } });
  assert.deepEqual([fullyRead.status, fullyRead.json.errcode], [405, 'M_BAD_JSON']);
  const missing = await h.call('GET', roomPath(ALICE, ROOM, 'never.set'), { as: ALICE });
  assert.deepEqual([missing.status, missing.json.errcode], [404, 'M_NOT_FOUND']);
  const badBody = await h.call('PUT', roomPath(ALICE, ROOM, 'org.example.pref'), { as: ALICE, raw: '[]' });
  assert.equal(badBody.status, 400);
  assert.deepEqual(await getRoomAccountData(h.db.sql, ALICE, ROOM, 'org.example.pref'), { v: 'room1' });
});

test('tags: PUT, GET and DELETE; order must be a number in [0, 1]', async () => {
  assert.deepEqual(await h.call('GET', tagsPath(ALICE, ROOM), { as: ALICE }), { status: 200, json: { tags: {} } });
  assert.equal((await h.call('PUT', tagPath(ALICE, ROOM, 'm.favourite'), { as: ALICE, body: { order: 0.25 } })).status, 200);
  assert.equal((await h.call('PUT', tagPath(ALICE, ROOM, 'u.Work'), { as: ALICE, body: {} })).status, 200);
  assert.equal((await h.call('PUT', tagPath(ALICE, ROOM, 'u.Work'), { as: ALICE, body: { order: 1 } })).status, 200);
  const got = await h.call('GET', tagsPath(ALICE, ROOM), { as: ALICE });
  assert.deepEqual(got, { status: 200, json: { tags: { 'm.favourite': { order: 0.25 }, 'u.Work': { order: 1 } } } });
  assert.deepEqual(await h.call('DELETE', tagPath(ALICE, ROOM, 'u.Work'), { as: ALICE }), { status: 200, json: {} });
  assert.deepEqual((await h.call('GET', tagsPath(ALICE, ROOM), { as: ALICE })).json, { tags: { 'm.favourite': { order: 0.25 } } });
  // Deleting a tag that is not there is fine.
  assert.equal((await h.call('DELETE', tagPath(ALICE, ROOM, 'u.None'), { as: ALICE })).status, 200);

  for (const [body, code] of [
    [{ order: 1.5 }, 'M_INVALID_PARAM'],
    [{ order: -0.1 }, 'M_INVALID_PARAM'],
    [{ order: '0.5' }, 'M_BAD_JSON'],
  ] as const) {
    const res = await h.call('PUT', tagPath(ALICE, ROOM, 'u.Bad'), { as: ALICE, body });
    assert.deepEqual([res.status, res.json.errcode], [400, code], JSON.stringify(body));
  }
  for (const [method, path] of [
    ['GET', tagsPath(BOB, ROOM)],
    ['PUT', tagPath(BOB, ROOM, 'u.X')],
    ['DELETE', tagPath(BOB, ROOM, 'u.X')],
  ] as const) {
    const res = await h.call(method, path, { as: ALICE, body: method === 'PUT' ? {} : undefined });
    assert.deepEqual([res.status, res.json.errcode], [403, 'M_FORBIDDEN'], `${method} ${path}`);
  }
  const badRoom = await h.call('GET', tagsPath(ALICE, 'room'), { as: ALICE });
  assert.deepEqual([badRoom.status, badRoom.json.errcode], [400, 'M_INVALID_PARAM']);
});

test('reader: account data and tags between stream positions, tags folded into m.tag', async () => {
  const carol = '@carol:test';
  const p0 = h.stream.position;
  await h.call('PUT', globalPath(carol, 'a.one'), { as: carol, body: { n: 1 } });
  await h.call('PUT', roomPath(carol, ROOM, 'r.one'), { as: carol, body: { n: 1 } });
  await h.call('PUT', tagPath(carol, ROOM, 'u.a'), { as: carol, body: { order: 0.5 } });
  const p1 = h.stream.position;
  await h.call('PUT', globalPath(carol, 'a.two'), { as: carol, body: { n: 2 } });
  await h.call('PUT', tagPath(carol, ROOM2, 'u.b'), { as: carol, body: {} });
  await h.call('PUT', globalPath(carol, 'a.one'), { as: carol, body: { n: 11 } });
  const p2 = h.stream.position;
  await h.call('DELETE', tagPath(carol, ROOM, 'u.a'), { as: carol });
  const p3 = h.stream.position;

  const first = await getAccountDataUpdates(h.db.sql, carol, p0, p1);
  // a.one changed again after p1: only its latest version exists, in the window of that change.
  assert.deepEqual(first.global, []);
  // Likewise ROOM's tags changed again after p2, so its m.tag belongs to the last window.
  assert.deepEqual(first.rooms, new Map([[ROOM, [{ type: 'r.one', content: { n: 1 } }]]]));
  const before = await getAccountDataUpdates(h.db.sql, carol, p0, p2);
  assert.ok(!before.rooms.get(ROOM)?.some((e) => e.type === 'm.tag'));

  const second = await getAccountDataUpdates(h.db.sql, carol, p1, p2);
  assert.deepEqual(second.global, [{ type: 'a.two', content: { n: 2 } }, { type: 'a.one', content: { n: 11 } }]);
  // ROOM's tag was deleted after p2, but the reader shows current tags for rooms whose tags changed in the window.
  assert.deepEqual(second.rooms, new Map([[ROOM2, [{ type: 'm.tag', content: { tags: { 'u.b': {} } } }]]]));

  const third = await getAccountDataUpdates(h.db.sql, carol, p2, p3);
  assert.deepEqual(third.global, []);
  assert.deepEqual(third.rooms, new Map([[ROOM, [{ type: 'm.tag', content: { tags: {} } }]]]));

  const initial = await getAccountDataUpdates(h.db.sql, carol, 0, p3);
  assert.deepEqual(initial.global.map((e) => e.type).sort(), ['a.one', 'a.two']);
  assert.deepEqual(initial.global.find((e) => e.type === 'a.one')?.content, { n: 11 });
  assert.deepEqual([...initial.rooms.keys()].sort(), [ROOM, ROOM2].sort());
  assert.deepEqual((await getAccountDataUpdates(h.db.sql, carol, p3, p3)).global, []);
  assert.deepEqual((await getAccountDataUpdates(h.db.sql, ALICE, p0, p3)).global, [], "another user's data stays out");
});

test('ignored users come from m.ignored_user_list', async () => {
  const dan = '@dan:test';
  assert.deepEqual(await getIgnoredUsers(h.db.sql, dan), []);
  await h.call('PUT', globalPath(dan, 'm.ignored_user_list'), { as: dan, body: { ignored_users: { [ALICE]: {}, [BOB]: {} } } });
  assert.deepEqual((await getIgnoredUsers(h.db.sql, dan)).sort(), [ALICE, BOB]);
  await h.call('PUT', globalPath(dan, 'm.ignored_user_list'), { as: dan, body: { ignored_users: [] } });
  assert.deepEqual(await getIgnoredUsers(h.db.sql, dan), []);
});

test('response shapes match the spec (account data, tags)', { skip: !haveSpec && 'spec data not present' }, async () => {
  const shapes: [string, string, string, string][] = [
    ['account-data.yaml', '/user/{userId}/account_data/{type}', 'get', globalPath(ALICE, 'org.example.config')],
    ['account-data.yaml', '/user/{userId}/rooms/{roomId}/account_data/{type}', 'get', roomPath(ALICE, ROOM, 'org.example.pref')],
    ['account-data.yaml', '/user/{userId}/account_data/{type}', 'put', globalPath(ALICE, 'org.example.shape')],
    ['tags.yaml', '/user/{userId}/rooms/{roomId}/tags', 'get', tagsPath(ALICE, ROOM)],
    ['tags.yaml', '/user/{userId}/rooms/{roomId}/tags/{tag}', 'put', tagPath(ALICE, ROOM, 'u.Shape')],
    ['tags.yaml', '/user/{userId}/rooms/{roomId}/tags/{tag}', 'delete', tagPath(ALICE, ROOM, 'u.Shape')],
  ];
  for (const [file, apiPath, method, url] of shapes) {
    const validate = responseValidator(file, apiPath, method);
    const res = await h.call(method.toUpperCase(), url, { as: ALICE, body: method === 'put' ? { order: 0.5 } : undefined });
    assert.equal(res.status, 200, url);
    assert.ok(validate(res.json), `${method} ${apiPath}: ${JSON.stringify(validate.errors)}`);
  }
  // The tag schema must be able to fail: a tag with a string order is not a Tag.
  assert.equal(responseValidator('tags.yaml', '/user/{userId}/rooms/{roomId}/tags', 'get')({ tags: { x: { order: 'high' } } }), false);
});
