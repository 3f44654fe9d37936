import test from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '@hs/storage/testing';
import { SERVER, login, register, startHarness, type Harness } from './support.ts';

let db: TestDatabase;
let h: Harness;

test.before(async () => {
  db = await createTestDatabase();
  h = await startHarness({}, { db });
});
test.after(async () => {
  await h.close();
  await db.close();
});

const REG = '/_matrix/client/v3/register';

test('register: first request answers the UIA flows, dummy stage completes it and logs in', async () => {
  const first = await h.call('POST', REG, { body: { username: 'alice', password: 'pw-alice', initial_device_display_name: 'Phone' } });
  assert.equal(first.status, 401);
  assert.deepEqual(first.json.flows, [{ stages: ['m.login.dummy'] }]);
  assert.deepEqual(first.json.params, {});
  assert.equal(typeof first.json.session, 'string');
  assert.equal(first.json.errcode, undefined);

  const done = await h.call('POST', REG, {
    body: { username: 'alice', password: 'pw-alice', initial_device_display_name: 'Phone', auth: { type: 'm.login.dummy', session: first.json.session } },
  });
  assert.equal(done.status, 200, JSON.stringify(done.json));
  assert.equal(done.json.user_id, `@alice:${SERVER}`);
  assert.equal(done.json.home_server, SERVER);
  assert.match(String(done.json.access_token), /^hsat_/);
  assert.equal(typeof done.json.device_id, 'string');
  assert.equal(done.json.refresh_token, undefined);
  assert.equal(done.json.expires_in_ms, undefined);

  const who = await h.call('GET', '/_matrix/client/v3/account/whoami', { token: String(done.json.access_token) });
  assert.deepEqual(who.json, { user_id: `@alice:${SERVER}`, device_id: done.json.device_id, is_guest: false });
  // Display name defaults to the localpart; the device got its initial name.
  const [profile] = await db.sql`SELECT displayname FROM profiles WHERE user_id = ${`@alice:${SERVER}`}`;
  assert.equal(profile?.displayname, 'alice');
  const [device] = await db.sql`SELECT display_name FROM devices WHERE user_id = ${`@alice:${SERVER}`}`;
  assert.equal(device?.display_name, 'Phone');
  // The password is stored hashed with its scrypt parameters, and it works for login.
  const [user] = await db.sql`SELECT password_hash FROM users WHERE user_id = ${`@alice:${SERVER}`}`;
  assert.match(String(user?.password_hash), /^scrypt\$1024\$8\$1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
  assert.equal((await login(h, 'alice', 'pw-alice')).status, 200);
  assert.ok(h.hooks.devices.some((d) => d.userId === `@alice:${SERVER}` && d.deviceIds[0] === done.json.device_id));
});

test('register: a request without auth never succeeds, even with a completed-looking body', async () => {
  const r = await h.call('POST', REG, { body: { username: 'noauth', password: 'x' } });
  assert.equal(r.status, 401);
  const r2 = await h.call('POST', REG, { body: { username: 'noauth', password: 'x' } });
  assert.notEqual(r2.json.session, r.json.session);
});

test('register: usernames are lowercased; bad grammar is M_INVALID_USERNAME before UIA; taken is M_USER_IN_USE', async () => {
  const bob = await register(h, 'BoB');
  assert.equal(bob.user_id, `@bob:${SERVER}`);
  for (const bad of ['has space', 'ünïcode', '_underscore', '12345', '', 'a'.repeat(300), 'col:on']) {
    const r = await h.call('POST', REG, { body: { username: bad, password: 'x' } });
    assert.equal(r.status, 400, bad);
    assert.equal(r.json.errcode, 'M_INVALID_USERNAME', bad);
  }
  const taken = await h.call('POST', REG, { body: { username: 'bob', password: 'x' } });
  assert.deepEqual([taken.status, taken.json.errcode], [400, 'M_USER_IN_USE']);
  const takenCase = await h.call('POST', REG, { body: { username: 'BOB', password: 'x' } });
  assert.equal(takenCase.json.errcode, 'M_USER_IN_USE');
});

test('register: later rounds may send only auth; the password is kept hashed in the session', async () => {
  const first = await h.call('POST', REG, { body: { username: 'carol', password: 'pw-carol', device_id: 'CAROLDEV', junk: 'x'.repeat(1000) } });
  const [row] = await db.sql`SELECT clientdict, serverdict FROM ui_auth_sessions WHERE session_id = ${String(first.json.session)}`;
  assert.equal((row?.clientdict as Record<string, unknown>).password, undefined, 'no plaintext password in the session');
  assert.deepEqual(row?.clientdict, { username: 'carol', device_id: 'CAROLDEV' }, 'only registration fields are kept');
  assert.match(String((row?.serverdict as Record<string, unknown>).password_hash), /^scrypt\$/);
  const done = await h.call('POST', REG, { body: { auth: { type: 'm.login.dummy', session: first.json.session } } });
  assert.equal(done.status, 200, JSON.stringify(done.json));
  assert.equal(done.json.user_id, `@carol:${SERVER}`);
  assert.equal(done.json.device_id, 'CAROLDEV');
  assert.equal((await login(h, 'carol', 'pw-carol')).status, 200);
});

test('register: missing password after auth is M_MISSING_PARAM; no username generates a numeric localpart', async () => {
  const first = await h.call('POST', REG, { body: { username: 'nopass' } });
  const r = await h.call('POST', REG, { body: { auth: { type: 'm.login.dummy', session: first.json.session } } });
  assert.deepEqual([r.status, r.json.errcode], [400, 'M_MISSING_PARAM']);

  const f2 = await h.call('POST', REG, { body: { password: 'pw' } });
  const r2 = await h.call('POST', REG, { body: { password: 'pw', auth: { type: 'm.login.dummy', session: f2.json.session } } });
  assert.equal(r2.status, 200);
  assert.match(String(r2.json.user_id), new RegExp(`^@\\d+:${SERVER.replace('.', '\\.')}$`));
});

test('register: inhibit_login returns only the user ID; refresh_token gives an expiring token and a refresh token', async () => {
  const first = await h.call('POST', REG, { body: { username: 'dave', password: 'pw', inhibit_login: true } });
  const r = await h.call('POST', REG, { body: { username: 'dave', password: 'pw', inhibit_login: true, auth: { type: 'm.login.dummy', session: first.json.session } } });
  assert.deepEqual(r.json, { user_id: `@dave:${SERVER}`, home_server: SERVER });
  const [count] = await db.sql`SELECT count(*)::int AS n FROM devices WHERE user_id = ${`@dave:${SERVER}`}`;
  assert.equal(count?.n, 0);

  const erin = await register(h, 'erin', 'pw', { refresh_token: true });
  assert.equal(erin.expires_in_ms, 5 * 60 * 1000);
  assert.match(String(erin.refresh_token), /^hsrt_/);
});

test('register: retrying a completed session logs in the same user again', async () => {
  const first = await h.call('POST', REG, { body: { username: 'frank', password: 'pw' } });
  const auth = { type: 'm.login.dummy', session: first.json.session };
  const a = await h.call('POST', REG, { body: { username: 'frank', password: 'pw', auth } });
  const b = await h.call('POST', REG, { body: { username: 'frank', password: 'pw', auth } });
  assert.equal(a.status, 200);
  assert.equal(b.status, 200, JSON.stringify(b.json));
  assert.equal(b.json.user_id, a.json.user_id);
  assert.notEqual(b.json.access_token, a.json.access_token);
  const other = await h.call('POST', REG, { body: { username: 'frankie', password: 'pw', auth } });
  assert.deepEqual([other.status, other.json.errcode], [400, 'M_UNKNOWN']);
});

test('register: bad kind, bad device_id, long password and malformed bodies are 4xx', async () => {
  const kind = await h.call('POST', `${REG}?kind=robot`, { body: {} });
  assert.deepEqual([kind.status, kind.json.errcode], [400, 'M_UNRECOGNIZED']);
  const longPw = await h.call('POST', REG, { body: { username: 'x1', password: 'p'.repeat(513) } });
  assert.deepEqual([longPw.status, longPw.json.errcode], [400, 'M_INVALID_PARAM']);
  const longDev = await h.call('POST', REG, { body: { username: 'x2', password: 'p', device_id: 'D'.repeat(300) } });
  assert.deepEqual([longDev.status, longDev.json.errcode], [400, 'M_INVALID_PARAM']);
  for (const body of [{ username: 5 }, { password: [] }, { inhibit_login: 'yes' }, { refresh_token: 1 }, { auth: 'x' }, { auth: { session: 7 } }]) {
    const r = await h.call('POST', REG, { body });
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.json.errcode, 'M_BAD_JSON', JSON.stringify(body));
  }
  const notJson = await h.call('POST', REG, { raw: '{nope' });
  assert.deepEqual([notJson.status, notJson.json.errcode], [400, 'M_NOT_JSON']);
  const arr = await h.call('POST', REG, { raw: '[1]' });
  assert.equal(arr.status, 400);
});

test('register: the r0 path works too', async () => {
  const r = await h.call('POST', '/_matrix/client/r0/register', { body: { username: 'rzero', password: 'pw' } });
  assert.equal(r.status, 401);
  assert.ok(Array.isArray(r.json.flows));
});

test('register/available: available, taken, invalid, missing', async () => {
  const ok = await h.call('GET', '/_matrix/client/v3/register/available?username=newbie');
  assert.deepEqual([ok.status, ok.json], [200, { available: true }]);
  const taken = await h.call('GET', '/_matrix/client/v3/register/available?username=alice');
  assert.deepEqual([taken.status, taken.json.errcode], [400, 'M_USER_IN_USE']);
  const bad = await h.call('GET', '/_matrix/client/v3/register/available?username=Not%20Valid');
  assert.deepEqual([bad.status, bad.json.errcode], [400, 'M_INVALID_USERNAME']);
  const missing = await h.call('GET', '/_matrix/client/v3/register/available');
  assert.deepEqual([missing.status, missing.json.errcode], [400, 'M_MISSING_PARAM']);
});

test('guest registration: numeric user, is_guest, server-chosen device; guests are kept out of account endpoints', async () => {
  const r = await h.call('POST', `${REG}?kind=guest`, { body: { initial_device_display_name: 'Guest tab', device_id: 'IGNORED', username: 'ignored' } });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.match(String(r.json.user_id), /^@\d+:/);
  assert.notEqual(r.json.device_id, 'IGNORED');
  const token = String(r.json.access_token);
  const who = await h.call('GET', '/_matrix/client/v3/account/whoami', { token });
  assert.equal(who.json.is_guest, true);
  // Guests may list devices and set a display name, but not change passwords or avatars.
  assert.equal((await h.call('GET', '/_matrix/client/v3/devices', { token })).status, 200);
  const pw = await h.call('POST', '/_matrix/client/v3/account/password', { token, body: { new_password: 'x' } });
  assert.deepEqual([pw.status, pw.json.errcode], [403, 'M_GUEST_ACCESS_FORBIDDEN']);
  const uid = encodeURIComponent(String(r.json.user_id));
  assert.equal((await h.call('PUT', `/_matrix/client/v3/profile/${uid}/displayname`, { token, body: { displayname: 'G' } })).status, 200);
  const av = await h.call('PUT', `/_matrix/client/v3/profile/${uid}/avatar_url`, { token, body: { avatar_url: 'mxc://a/b' } });
  assert.deepEqual([av.status, av.json.errcode], [403, 'M_GUEST_ACCESS_FORBIDDEN']);
});

test('registration disabled: 403 for users, available and token validity; guests depend on allow_guest_access', async () => {
  const closed = await startHarness({ enableRegistration: false, allowGuestAccess: false }, { db });
  try {
    const r = await closed.call('POST', REG, { body: { username: 'zed', password: 'pw' } });
    assert.deepEqual([r.status, r.json.errcode], [403, 'M_FORBIDDEN']);
    const g = await closed.call('POST', `${REG}?kind=guest`, { body: {} });
    assert.deepEqual([g.status, g.json.errcode], [403, 'M_FORBIDDEN']);
    const a = await closed.call('GET', '/_matrix/client/v3/register/available?username=zed');
    assert.equal(a.status, 403);
    const v = await closed.call('GET', '/_matrix/client/v1/register/m.login.registration_token/validity?token=abc');
    assert.equal(v.status, 403);
  } finally {
    await closed.close();
  }
});
