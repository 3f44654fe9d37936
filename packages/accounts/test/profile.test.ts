import test from 'node:test';
import assert from 'node:assert/strict';
import { getProfile } from '../src/profile-store.ts';
import { SERVER, register, startHarness, type Harness } from './support.ts';

let h: Harness;
let kim: { user_id: string; access_token: string };
let lee: { user_id: string; access_token: string };
test.before(async () => {
  h = await startHarness();
  kim = await register(h, 'kim');
  lee = await register(h, 'lee');
});
test.after(() => h.close());

const p = (userId: string, field = '') => `/_matrix/client/v3/profile/${encodeURIComponent(userId)}${field ? `/${field}` : ''}`;

test('profile: defaults to the localpart; set, read and clear display name and avatar', async () => {
  assert.deepEqual((await h.call('GET', p(kim.user_id))).json, { displayname: 'kim' });
  const noAvatar = await h.call('GET', p(kim.user_id, 'avatar_url'));
  assert.deepEqual([noAvatar.status, noAvatar.json.errcode], [404, 'M_NOT_FOUND']);

  h.hooks.profiles.length = 0;
  const set = await h.call('PUT', p(kim.user_id, 'displayname'), { token: kim.access_token, body: { displayname: 'Kim K' } });
  assert.deepEqual([set.status, set.json], [200, {}]);
  const av = await h.call('PUT', p(kim.user_id, 'avatar_url'), { token: kim.access_token, body: { avatar_url: 'mxc://test.local/abc' } });
  assert.equal(av.status, 200);
  assert.deepEqual((await h.call('GET', p(kim.user_id, 'displayname'))).json, { displayname: 'Kim K' });
  assert.deepEqual((await h.call('GET', p(kim.user_id, 'avatar_url'))).json, { avatar_url: 'mxc://test.local/abc' });
  assert.deepEqual((await h.call('GET', p(kim.user_id))).json, { displayname: 'Kim K', avatar_url: 'mxc://test.local/abc' });
  assert.deepEqual(h.hooks.profiles, [
    { userId: kim.user_id, profile: { displayname: 'Kim K' } },
    { userId: kim.user_id, profile: { displayname: 'Kim K', avatar_url: 'mxc://test.local/abc' } },
  ]);
  assert.deepEqual(await getProfile(h.db.sql, kim.user_id), { displayname: 'Kim K', avatar_url: 'mxc://test.local/abc' });
  assert.equal(await getProfile(h.db.sql, `@ghost:${SERVER}`), null);

  await h.call('PUT', p(kim.user_id, 'avatar_url'), { token: kim.access_token, body: { avatar_url: '' } });
  assert.deepEqual((await h.call('GET', p(kim.user_id))).json, { displayname: 'Kim K' });
  assert.deepEqual(h.hooks.profiles.at(-1), { userId: kim.user_id, profile: { displayname: 'Kim K' } });
  // The r0 path serves the same profile.
  assert.equal((await h.call('GET', `/_matrix/client/r0/profile/${encodeURIComponent(kim.user_id)}/displayname`)).json.displayname, 'Kim K');
});

test('profile: unknown, remote and malformed users', async () => {
  const ghost = await h.call('GET', p(`@ghost:${SERVER}`));
  assert.deepEqual([ghost.status, ghost.json.errcode], [404, 'M_NOT_FOUND']);
  assert.equal((await h.call('GET', p(`@ghost:${SERVER}`, 'displayname'))).status, 404);
  assert.equal((await h.call('GET', p('@someone:remote.example'))).status, 404);
  const bad = await h.call('GET', p('not-a-user'));
  assert.deepEqual([bad.status, bad.json.errcode], [400, 'M_INVALID_PARAM']);
  const other = await h.call('GET', '/_matrix/client/v3/profile/%40kim%3Atest.local/m.tz');
  assert.equal(other.status, 404);
});

test('profile: only your own (admins excepted), limits, malformed bodies', async () => {
  const theirs = await h.call('PUT', p(lee.user_id, 'displayname'), { token: kim.access_token, body: { displayname: 'hijack' } });
  assert.deepEqual([theirs.status, theirs.json.errcode], [403, 'M_FORBIDDEN']);
  const ghost = await h.call('PUT', p(`@ghost:${SERVER}`, 'displayname'), { token: kim.access_token, body: { displayname: 'x' } });
  assert.equal(ghost.status, 403);
  const noToken = await h.call('PUT', p(kim.user_id, 'displayname'), { body: { displayname: 'x' } });
  assert.equal(noToken.status, 401);

  await h.db.sql`UPDATE users SET admin = TRUE WHERE user_id = ${kim.user_id}`;
  h.clock.now += 11_000;
  const asAdmin = await h.call('PUT', p(lee.user_id, 'displayname'), { token: kim.access_token, body: { displayname: 'Set by admin' } });
  assert.equal(asAdmin.status, 200);
  const ghostAdmin = await h.call('PUT', p(`@ghost:${SERVER}`, 'displayname'), { token: kim.access_token, body: { displayname: 'x' } });
  assert.deepEqual([ghostAdmin.status, ghostAdmin.json.errcode], [404, 'M_NOT_FOUND']);

  const tooLong = await h.call('PUT', p(kim.user_id, 'displayname'), { token: kim.access_token, body: { displayname: 'x'.repeat(257) } });
  assert.deepEqual([tooLong.status, tooLong.json.errcode], [400, 'M_TOO_LARGE']);
  const notMxc = await h.call('PUT', p(kim.user_id, 'avatar_url'), { token: kim.access_token, body: { avatar_url: 'https://example.org/a.png' } });
  assert.deepEqual([notMxc.status, notMxc.json.errcode], [400, 'M_INVALID_PARAM']);
  const cases: [string, unknown, string][] = [
    ['displayname', {}, 'M_MISSING_PARAM'],
    ['displayname', { displayname: null }, 'M_BAD_JSON'],
    ['displayname', { displayname: 3 }, 'M_BAD_JSON'],
    ['avatar_url', { avatar_url: false }, 'M_BAD_JSON'],
    ['avatar_url', { displayname: 'x' }, 'M_MISSING_PARAM'],
  ];
  for (const [field, body, code] of cases) {
    const r = await h.call('PUT', p(kim.user_id, field), { token: kim.access_token, body });
    assert.deepEqual([r.status, r.json.errcode], [400, code], JSON.stringify(body));
  }
  const raw = await h.call('PUT', p(kim.user_id, 'displayname'), { token: kim.access_token, raw: '"just a string"' });
  assert.equal(raw.status, 400);
});
