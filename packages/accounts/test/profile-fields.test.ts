/** Custom profile fields (v1.16): GET/PUT/DELETE /profile/{userId}/{keyName}, limits, who may write. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { assertResponseShape, specPresent } from '../../../e2e/support/openapi.ts';
import { MAX_PROFILE_BYTES } from '../src/profile-store.ts';
import { SERVER, passwordAuth, register, startHarness, type Harness } from './support.ts';

let h: Harness;
let kim: { user_id: string; access_token: string };
let lee: { user_id: string; access_token: string };
test.before(async () => {
  h = await startHarness();
  kim = await register(h, 'kim');
  lee = await register(h, 'lee');
});
test.after(() => h.close());

const p = (userId: string, key = '') => `/_matrix/client/v3/profile/${encodeURIComponent(userId)}${key ? `/${encodeURIComponent(key)}` : ''}`;

test('custom fields: set, read, replace and delete any JSON; the whole profile lists them', async () => {
  h.hooks.profiles.length = 0;
  const values: Array<[string, unknown]> = [
    ['org.example.job_title', 'Cheesemonger'],
    ['m.tz', 'Europe/London'],
    ['org.example.card', { roles: ['a', 'b'], level: 3, ratio: 1.5, nested: { ok: true } }],
    ['org.example.nothing', null],
    ['org.example.nul', 'a\u0000b'],
    ['x', 42],
  ];
  for (const [key, value] of values) {
    const r = await h.call('PUT', p(kim.user_id, key), { token: kim.access_token, body: { [key]: value, ignored_extra: 1 } });
    assert.deepEqual([r.status, r.json], [200, {}], key);
    assert.deepEqual((await h.call('GET', p(kim.user_id, key))).json, { [key]: value }, key);
  }
  assert.deepEqual((await h.call('GET', p(kim.user_id))).json, { displayname: 'kim', ...Object.fromEntries(values) });
  assert.deepEqual(h.hooks.profiles, [], 'custom fields do not reach rooms');

  await h.call('PUT', p(kim.user_id, 'org.example.job_title'), { token: kim.access_token, body: { 'org.example.job_title': 'Baker' } });
  assert.deepEqual((await h.call('GET', p(kim.user_id, 'org.example.job_title'))).json, { 'org.example.job_title': 'Baker' });

  const del = await h.call('DELETE', p(kim.user_id, 'org.example.job_title'), { token: kim.access_token });
  assert.deepEqual([del.status, del.json], [200, {}]);
  const gone = await h.call('GET', p(kim.user_id, 'org.example.job_title'));
  assert.deepEqual([gone.status, gone.json.errcode], [404, 'M_NOT_FOUND']);
  assert.equal((await h.call('DELETE', p(kim.user_id, 'org.example.job_title'), { token: kim.access_token })).status, 200, 'deleting nothing is fine');
  assert.equal((await h.call('GET', p(kim.user_id))).json['org.example.job_title'], undefined);
  // Someone else's fields, and fields of users that do not exist here.
  assert.deepEqual((await h.call('GET', p(lee.user_id, 'm.tz'))).status, 404);
  assert.deepEqual((await h.call('GET', p(`@ghost:${SERVER}`, 'm.tz'))).status, 404);
  assert.deepEqual((await h.call('GET', p('@far:remote.example', 'm.tz'))).status, 404);
});

test('displayname and avatar_url through the generic paths keep their rules and reach rooms', async () => {
  await h.call('PUT', p(lee.user_id, 'avatar_url'), { token: lee.access_token, body: { avatar_url: 'mxc://test.local/lee' } });
  h.hooks.profiles.length = 0;
  const del = await h.call('DELETE', p(lee.user_id, 'displayname'), { token: lee.access_token });
  assert.equal(del.status, 200);
  assert.deepEqual((await h.call('GET', p(lee.user_id))).json, { avatar_url: 'mxc://test.local/lee' });
  await h.call('DELETE', p(lee.user_id, 'avatar_url'), { token: lee.access_token });
  assert.deepEqual((await h.call('GET', p(lee.user_id))).json, {});
  assert.deepEqual(h.hooks.profiles, [
    { userId: lee.user_id, profile: { avatar_url: 'mxc://test.local/lee' } },
    { userId: lee.user_id, profile: {} },
  ]);
  // The r0 prefix has only the two fixed keys.
  assert.equal((await h.call('GET', `/_matrix/client/r0/profile/${encodeURIComponent(lee.user_id)}/m.tz`)).status, 404);
  assert.equal((await h.call('DELETE', `/_matrix/client/r0/profile/${encodeURIComponent(lee.user_id)}/displayname`, { token: lee.access_token })).status, 405);
});

test('key names: the namespaced grammar, at most 255 bytes', async () => {
  const cases: Array<[string, number, string]> = [
    ['Org.Example', 400, 'M_INVALID_PARAM'],
    ['1abc', 400, 'M_INVALID_PARAM'],
    ['a b', 400, 'M_INVALID_PARAM'],
    ['é', 400, 'M_INVALID_PARAM'],
    ['a\u0000', 400, 'M_INVALID_PARAM'],
    [`a${'b'.repeat(255)}`, 400, 'M_KEY_TOO_LARGE'],
  ];
  for (const [key, status, errcode] of cases) {
    for (const [method, body] of [['GET', undefined], ['PUT', { [key]: 1 }], ['DELETE', undefined]] as const) {
      const r = await h.call(method, p(kim.user_id, key), { token: kim.access_token, ...(body ? { body } : {}) });
      assert.deepEqual([r.status, r.json.errcode], [status, errcode], `${method} ${key.slice(0, 20)}`);
    }
  }
  const longest = `a${'b'.repeat(254)}`;
  assert.equal((await h.call('PUT', p(kim.user_id, longest), { token: kim.access_token, body: { [longest]: true } })).status, 200);
  await h.call('DELETE', p(kim.user_id, longest), { token: kim.access_token });
});

test('who may write: yourself or an admin; guests only their display name', async () => {
  const key = 'org.example.badge';
  const theirs = await h.call('PUT', p(lee.user_id, key), { token: kim.access_token, body: { [key]: 'x' } });
  assert.deepEqual([theirs.status, theirs.json.errcode], [403, 'M_FORBIDDEN']);
  assert.equal((await h.call('DELETE', p(lee.user_id, key), { token: kim.access_token })).status, 403);
  assert.equal((await h.call('PUT', p('@far:remote.example', key), { token: kim.access_token, body: { [key]: 'x' } })).status, 403);
  const anon = await h.call('PUT', p(kim.user_id, key), { body: { [key]: 'x' } });
  assert.deepEqual([anon.status, anon.json.errcode], [401, 'M_MISSING_TOKEN']);
  assert.equal((await h.call('DELETE', p(kim.user_id, key))).status, 401);

  const guest = await h.call('POST', '/_matrix/client/v3/register?kind=guest', { body: {} });
  const gToken = String(guest.json.access_token);
  const gId = String(guest.json.user_id);
  const refused = await h.call('PUT', p(gId, key), { token: gToken, body: { [key]: 'x' } });
  assert.deepEqual([refused.status, refused.json.errcode], [403, 'M_GUEST_ACCESS_FORBIDDEN']);
  assert.equal((await h.call('DELETE', p(gId, 'avatar_url'), { token: gToken })).status, 403);
  assert.equal((await h.call('DELETE', p(gId, 'displayname'), { token: gToken })).status, 200);

  const admin = await register(h, 'root');
  await h.db.sql`UPDATE users SET admin = TRUE WHERE user_id = ${admin.user_id}`;
  h.clock.now += 11_000;
  assert.equal((await h.call('PUT', p(lee.user_id, key), { token: admin.access_token, body: { [key]: 'by admin' } })).status, 200);
  assert.deepEqual((await h.call('GET', p(lee.user_id, key))).json, { [key]: 'by admin' });
  assert.equal((await h.call('DELETE', p(lee.user_id, key), { token: admin.access_token })).status, 200);
  const ghost = await h.call('PUT', p(`@ghost:${SERVER}`, key), { token: admin.access_token, body: { [key]: 1 } });
  assert.deepEqual([ghost.status, ghost.json.errcode], [404, 'M_NOT_FOUND']);
});

test('malformed bodies', async () => {
  const key = 'org.example.thing';
  const cases: Array<[string, unknown, string]> = [
    [key, {}, 'M_MISSING_PARAM'],
    [key, { 'org.example.other': 1 }, 'M_MISSING_PARAM'],
    [key, [1, 2], 'M_BAD_JSON'],
    ['m.tz', { 'm.tz': 5 }, 'M_BAD_JSON'],
    ['m.tz', { 'm.tz': null }, 'M_BAD_JSON'],
    [key, { [key]: JSON.parse('['.repeat(1500) + ']'.repeat(1500)) }, 'M_BAD_JSON'],
  ];
  for (const [k, body, errcode] of cases) {
    const r = await h.call('PUT', p(kim.user_id, k), { token: kim.access_token, body });
    assert.deepEqual([r.status, r.json.errcode], [400, errcode], JSON.stringify(body).slice(0, 60));
  }
  const raw = await h.call('PUT', p(kim.user_id, key), { token: kim.access_token, raw: '{"org.example.thing": ' });
  assert.deepEqual([raw.status, raw.json.errcode], [400, 'M_NOT_JSON']);
  assert.equal((await h.call('GET', p(kim.user_id, key))).status, 404, 'nothing was stored');
});

test('the whole profile stays within 64 KiB, counted as JSON, even under concurrent writes', async () => {
  const me = await register(h, 'big');
  const put = (key: string, value: unknown, token = me.access_token) => h.call('PUT', p(me.user_id, key), { token, body: { [key]: value } });
  // {"displayname":"big","org.example.a":"…"} — the filler makes it exactly the limit.
  const overhead = JSON.stringify({ displayname: 'big', 'org.example.a': '' }).length;
  const exact = 'x'.repeat(MAX_PROFILE_BYTES - overhead);
  assert.equal((await put('org.example.a', exact)).status, 200, 'exactly 64 KiB fits');
  const full = await put('org.example.b', 1);
  assert.deepEqual([full.status, full.json.errcode], [400, 'M_PROFILE_TOO_LARGE']);
  const longerName = await put('displayname', 'bigger');
  assert.deepEqual([longerName.status, longerName.json.errcode], [400, 'M_PROFILE_TOO_LARGE'], 'the standard fields count too');
  assert.equal((await put('displayname', 'bi')).status, 200, 'shrinking is fine');
  // Replacing a field counts it once: one byte more than the freed byte fits, two do not.
  assert.equal((await put('org.example.a', `${exact}y`)).status, 200);
  assert.equal((await put('org.example.a', `${exact}yy`)).json.errcode, 'M_PROFILE_TOO_LARGE');
  // Multi-byte characters count by their UTF-8 bytes.
  assert.equal((await put('org.example.a', 'é'.repeat(40_000))).json.errcode, 'M_PROFILE_TOO_LARGE');
  assert.equal((await h.call('DELETE', p(me.user_id, 'org.example.a'), { token: me.access_token })).status, 200);

  // Two writes of 40 KiB each race: the profile lock lets exactly one of them in.
  const racers = await Promise.all([put('org.example.r1', 'r'.repeat(40_000)), put('org.example.r2', 's'.repeat(40_000))]);
  assert.deepEqual(racers.map((r) => r.status).sort(), [200, 400]);
  const stored = await h.db.sql`SELECT sum(octet_length(value))::int AS n FROM profile_fields WHERE user_id = ${me.user_id}`;
  assert.ok(Number(stored[0]?.n) < MAX_PROFILE_BYTES);
});

test('erasing a deactivated account removes its custom fields', async () => {
  const me = await register(h, 'gone', 'pw-gone');
  await h.call('PUT', p(me.user_id, 'm.tz'), { token: me.access_token, body: { 'm.tz': 'Asia/Tokyo' } });
  const fields = () => h.db.sql`SELECT field FROM profile_fields WHERE user_id = ${me.user_id}`;
  assert.equal((await fields()).length, 1);
  const url = '/_matrix/client/v3/account/deactivate';
  const first = await h.call('POST', url, { token: me.access_token, body: { erase: true } });
  const done = await h.call('POST', url, { token: me.access_token, body: { erase: true, auth: passwordAuth('gone', first.json.session, 'pw-gone') } });
  assert.equal(done.status, 200);
  assert.equal((await fields()).length, 0);
  assert.deepEqual((await h.call('GET', p(me.user_id))).json, {});
});

test('responses fit the spec OpenAPI', { skip: !specPresent('accounts profile fields', 'profile.yaml') && 'spec data absent' }, async () => {
  const key = 'org.example.shape';
  const shape = (path: string, method: string, r: { status: number; json: unknown }) => assertResponseShape('profile.yaml', path, method, r.status, r.json);
  shape('/profile/{userId}/{keyName}', 'put', await h.call('PUT', p(kim.user_id, key), { token: kim.access_token, body: { [key]: { any: ['json'] } } }));
  shape('/profile/{userId}/{keyName}', 'put', await h.call('PUT', p(kim.user_id, 'Bad'), { token: kim.access_token, body: { Bad: 1 } }));
  shape('/profile/{userId}/{keyName}', 'put', await h.call('PUT', p(lee.user_id, key), { token: kim.access_token, body: { [key]: 1 } }));
  shape('/profile/{userId}/{keyName}', 'get', await h.call('GET', p(kim.user_id, key)));
  shape('/profile/{userId}', 'get', await h.call('GET', p(kim.user_id)));
  shape('/profile/{userId}/{keyName}', 'delete', await h.call('DELETE', p(kim.user_id, key), { token: kim.access_token }));
  shape('/profile/{userId}/{keyName}', 'delete', await h.call('DELETE', p(kim.user_id, 'Bad'), { token: kim.access_token }));
  shape('/profile/{userId}/{keyName}', 'delete', await h.call('DELETE', p(lee.user_id, key), { token: kim.access_token }));
});
