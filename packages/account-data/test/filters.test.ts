import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { parse } from 'yaml';
import { MatrixError } from '@hs/core';
import { loadFilter, validateFilter } from '../src/filters.ts';
import { SPEC_API_DIR, requestValidator, responseValidator, specPresent } from '../../../e2e/support/openapi.ts';
import { enc, startHarness, type Harness } from './support.ts';

const haveSpec = specPresent('spec shape checks in filters.test.ts');

const ALICE = '@alice:test';
const BOB = '@bob:test';
const filtersPath = (user: string) => `/_matrix/client/v3/user/${enc(user)}/filter`;

const sample = {
  room: {
    state: { types: ['m.room.*'], not_rooms: ['!726s6s6q:example.com'], lazy_load_members: true },
    timeline: { limit: 10, types: ['m.room.message'], not_senders: ['@spam:example.com'] },
    ephemeral: { types: ['m.receipt', 'm.typing'] },
    include_leave: false,
  },
  presence: { types: ['m.presence'], not_senders: ['@alice:example.com'] },
  event_format: 'client',
  event_fields: ['type', 'content', 'sender'],
};

let h: Harness;
test.before(async () => {
  h = await startHarness();
});
test.after(() => h.close());

test('upload and download a filter; identical uploads share an ID, different ones do not', async () => {
  const created = await h.call('POST', filtersPath(ALICE), { as: ALICE, body: sample });
  assert.equal(created.status, 200);
  const id = created.json.filter_id;
  assert.equal(typeof id, 'string');
  assert.ok(!(id as string).startsWith('{'));
  assert.deepEqual(await h.call('GET', `${filtersPath(ALICE)}/${id}`, { as: ALICE }), { status: 200, json: sample });
  // Same content, keys in another order: same filter.
  const reordered = { event_fields: sample.event_fields, event_format: 'client', presence: sample.presence, room: sample.room };
  assert.equal((await h.call('POST', filtersPath(ALICE), { as: ALICE, body: reordered })).json.filter_id, id);
  const other = await h.call('POST', filtersPath(ALICE), { as: ALICE, body: { room: { timeline: { limit: 5 } } } });
  assert.notEqual(other.json.filter_id, id);
  // Bob's IDs are his own.
  const bobs = await h.call('POST', filtersPath(BOB), { as: BOB, body: {} });
  assert.equal(bobs.status, 200);
  assert.deepEqual((await h.call('GET', `${filtersPath(BOB)}/${bobs.json.filter_id}`, { as: BOB })).json, {});
});

test('concurrent uploads each get an ID', async () => {
  const carol = '@carol:test';
  const results = await Promise.all(
    Array.from({ length: 8 }, (_, i) => h.call('POST', filtersPath(carol), { as: carol, body: { room: { timeline: { limit: i + 1 } } } })),
  );
  assert.ok(results.every((r) => r.status === 200));
  assert.equal(new Set(results.map((r) => r.json.filter_id)).size, 8);
});

test('filter errors: others 403, unknown or malformed ID 404', async () => {
  const post = await h.call('POST', filtersPath(BOB), { as: ALICE, body: {} });
  assert.deepEqual([post.status, post.json.errcode], [403, 'M_FORBIDDEN']);
  const get = await h.call('GET', `${filtersPath(BOB)}/0`, { as: ALICE });
  assert.deepEqual([get.status, get.json.errcode], [403, 'M_FORBIDDEN']);
  for (const id of ['999', 'abc', '-1', '1e3', '99999999999999999999']) {
    const res = await h.call('GET', `${filtersPath(ALICE)}/${enc(id)}`, { as: ALICE });
    assert.deepEqual([res.status, res.json.errcode], [404, 'M_NOT_FOUND'], id);
  }
});

test('filter validation edge cases are 400s', async () => {
  const cases: [unknown, string][] = [
    [{ room: { timeline: { limit: 0 } } }, 'M_INVALID_PARAM'],
    [{ room: { timeline: { limit: -3 } } }, 'M_INVALID_PARAM'],
    [{ room: { timeline: { limit: 1.5 } } }, 'M_BAD_JSON'],
    [{ room: { timeline: { limit: '10' } } }, 'M_BAD_JSON'],
    [{ presence: { senders: ['alice'] } }, 'M_INVALID_PARAM'],
    [{ presence: { not_senders: [7] } }, 'M_BAD_JSON'],
    [{ room: { rooms: ['#alias:test'] } }, 'M_INVALID_PARAM'],
    [{ room: { state: { not_rooms: ['room'] } } }, 'M_INVALID_PARAM'],
    [{ room: { include_leave: 'yes' } }, 'M_BAD_JSON'],
    [{ room: { timeline: { lazy_load_members: 1 } } }, 'M_BAD_JSON'],
    [{ event_format: 'xml' }, 'M_INVALID_PARAM'],
    [{ event_fields: 'type' }, 'M_BAD_JSON'],
    [{ account_data: { types: [null] } }, 'M_BAD_JSON'],
    [{ room: 'all' }, 'M_BAD_JSON'],
  ];
  for (const [body, code] of cases) {
    const res = await h.call('POST', filtersPath(ALICE), { as: ALICE, body });
    assert.deepEqual([res.status, res.json.errcode], [400, code], JSON.stringify(body));
  }
  // Unknown keys are allowed everywhere (forward compatibility).
  const extra = { 'org.example.x': 1, room: { 'org.example.y': true, timeline: { 'org.example.z': [] } } };
  assert.equal((await h.call('POST', filtersPath(ALICE), { as: ALICE, body: extra })).status, 200);
  const notObject = await h.call('POST', filtersPath(ALICE), { as: ALICE, raw: '[]' });
  assert.equal(notObject.status, 400);
});

async function loadError(userId: string, text: string): Promise<string> {
  try {
    await loadFilter(h.db.sql, userId, text);
  } catch (e) {
    assert.ok(e instanceof MatrixError, String(e));
    assert.equal(e.httpStatus, 400);
    return e.errcode;
  }
  assert.fail(`loadFilter accepted ${text}`);
}

test('loadFilter: inline JSON or a stored ID; invalid → 400', async () => {
  assert.deepEqual(await loadFilter(h.db.sql, ALICE, JSON.stringify(sample)), sample);
  const { json } = await h.call('POST', filtersPath(ALICE), { as: ALICE, body: { room: { timeline: { limit: 3 } } } });
  assert.deepEqual(await loadFilter(h.db.sql, ALICE, json.filter_id as string), { room: { timeline: { limit: 3 } } });
  assert.equal(await loadError(ALICE, '{not json'), 'M_NOT_JSON');
  assert.equal(await loadError(ALICE, '{"room":{"timeline":{"limit":0}}}'), 'M_INVALID_PARAM');
  assert.equal(await loadError(ALICE, '{"event_format":5}'), 'M_INVALID_PARAM');
  assert.equal(await loadError(ALICE, '12345'), 'M_INVALID_PARAM');
  assert.equal(await loadError(ALICE, 'nope'), 'M_INVALID_PARAM');
  assert.throws(() => validateFilter([]), MatrixError);
});

test("another user's filter ID does not load for you", async () => {
  const dan = '@dan:test';
  const erin = '@erin:test';
  const { json } = await h.call('POST', filtersPath(dan), { as: dan, body: { presence: { limit: 2 } } });
  assert.equal(await loadError(erin, json.filter_id as string), 'M_INVALID_PARAM');
});

test('the spec example filter is accepted and our schema agrees with the spec on samples', { skip: !haveSpec && 'spec data not present' }, async () => {
  const doc = parse(fs.readFileSync(`${SPEC_API_DIR}/filter.yaml`, 'utf8')) as {
    paths: Record<string, { post: { requestBody: { content: { 'application/json': { schema: { example: unknown } } } } } }>;
  };
  const example = doc.paths['/user/{userId}/filter']?.post.requestBody.content['application/json'].schema.example;
  assert.ok(example && typeof example === 'object');
  const res = await h.call('POST', filtersPath(ALICE), { as: ALICE, body: example });
  assert.equal(res.status, 200);
  assert.ok(responseValidator('filter.yaml', '/user/{userId}/filter', 'post')(res.json));
  const back = await h.call('GET', `${filtersPath(ALICE)}/${res.json.filter_id}`, { as: ALICE });
  const getShape = responseValidator('filter.yaml', '/user/{userId}/filter/{filterId}', 'get');
  assert.ok(getShape(back.json), JSON.stringify(getShape.errors));
  // Whatever the spec's schema rejects on type grounds, ours rejects too.
  const specRequest = requestValidator('filter.yaml', '/user/{userId}/filter', 'post');
  for (const bad of [{ room: { timeline: { limit: 'x' } } }, { event_format: 'xml' }, { presence: { senders: ['alice'] } }, { room: { rooms: [1] } }]) {
    assert.equal(specRequest(bad), false, JSON.stringify(bad));
    assert.throws(() => validateFilter(bad), MatrixError);
  }
});
