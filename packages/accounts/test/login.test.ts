import test from 'node:test';
import assert from 'node:assert/strict';
import { createLoginToken } from '../src/login-tokens.ts';
import { hashToken } from '../src/tokens.ts';
import { SERVER, login, register, startHarness, type Harness } from './support.ts';

let h: Harness;
test.before(async () => {
  h = await startHarness();
  await register(h, 'alice', 'pw-alice');
  await register(h, 'bob', 'pw-bob');
});
test.after(() => h.close());

const WHOAMI = '/_matrix/client/v3/account/whoami';
const alice = `@alice:${SERVER}`;

test('GET /login lists password and token logins', async () => {
  const r = await h.call('GET', '/_matrix/client/v3/login');
  assert.deepEqual(r.json, { flows: [{ type: 'm.login.password' }, { type: 'm.login.token' }] });
});

test('password login: by localpart, full ID, any case, or the legacy user field', async () => {
  for (const body of [
    { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: 'pw-alice' },
    { type: 'm.login.password', identifier: { type: 'm.id.user', user: alice }, password: 'pw-alice' },
    { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'ALICE' }, password: 'pw-alice' },
    { type: 'm.login.password', user: 'alice', password: 'pw-alice' },
  ]) {
    const r = await h.call('POST', '/_matrix/client/v3/login', { body });
    assert.equal(r.status, 200, JSON.stringify(body));
    assert.equal(r.json.user_id, alice);
    assert.equal(r.json.home_server, SERVER);
    const who = await h.call('GET', WHOAMI, { token: String(r.json.access_token) });
    assert.equal(who.json.device_id, r.json.device_id);
  }
});

test('password login failures do not say what was wrong', async () => {
  const wrong = await login(h, 'alice', 'nope');
  const unknown = await login(h, 'nobody', 'nope');
  const remote = await login(h, '@alice:elsewhere.example', 'pw-alice');
  for (const r of [wrong, unknown, remote]) {
    assert.deepEqual([r.status, r.json], [403, { errcode: 'M_FORBIDDEN', error: 'Invalid username or password' }]);
  }
  const tp = await h.call('POST', '/_matrix/client/v3/login', {
    body: { type: 'm.login.password', identifier: { type: 'm.id.thirdparty', medium: 'email', address: 'a@b.c' }, password: 'x' },
  });
  assert.deepEqual([tp.status, tp.json.errcode], [403, 'M_FORBIDDEN']);
});

test('login errors: unknown type, unknown identifier, missing fields, malformed bodies', async () => {
  const cases: [unknown, number, string][] = [
    [{ type: 'm.login.magic' }, 400, 'M_UNKNOWN'],
    [{ type: 'm.login.password', identifier: { type: 'm.id.weird' }, password: 'x' }, 400, 'M_UNKNOWN'],
    [{ type: 'm.login.password', identifier: { type: 'm.id.user' }, password: 'x' }, 400, 'M_MISSING_PARAM'],
    [{ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' } }, 400, 'M_MISSING_PARAM'],
    [{ type: 'm.login.password', password: 'x' }, 400, 'M_INVALID_PARAM'],
    [{ type: 'm.login.token' }, 400, 'M_MISSING_PARAM'],
    [{}, 400, 'M_MISSING_PARAM'],
    [{ type: 7 }, 400, 'M_BAD_JSON'],
    [{ type: 'm.login.password', identifier: 'alice', password: 'x' }, 400, 'M_BAD_JSON'],
    [{ type: 'm.login.password', identifier: {}, password: 'x' }, 400, 'M_MISSING_PARAM'],
    [{ type: 'm.login.password', user: 'alice', password: 5 }, 400, 'M_BAD_JSON'],
    [{ type: 'm.login.password', user: 'alice', password: 'pw-alice', refresh_token: 'yes' }, 400, 'M_BAD_JSON'],
    [{ type: 'm.login.password', user: 'alice', password: 'pw-alice', device_id: 'D'.repeat(256) }, 400, 'M_INVALID_PARAM'],
  ];
  for (const [body, status, errcode] of cases) {
    const r = await h.call('POST', '/_matrix/client/v3/login', { body });
    assert.deepEqual([r.status, r.json.errcode], [status, errcode], JSON.stringify(body));
  }
  const notJson = await h.call('POST', '/_matrix/client/v3/login', { raw: 'type=password' });
  assert.deepEqual([notJson.status, notJson.json.errcode], [400, 'M_NOT_JSON']);
});

test('login with a known device_id reuses the device and revokes its earlier tokens', async () => {
  const a = await login(h, 'bob', 'pw-bob', { device_id: 'BOBPHONE', initial_device_display_name: 'Phone' });
  assert.equal(a.json.device_id, 'BOBPHONE');
  const b = await login(h, 'bob', 'pw-bob', { device_id: 'BOBPHONE', initial_device_display_name: 'Ignored' });
  assert.equal(b.json.device_id, 'BOBPHONE');
  assert.equal((await h.call('GET', WHOAMI, { token: String(a.json.access_token) })).status, 401);
  assert.equal((await h.call('GET', WHOAMI, { token: String(b.json.access_token) })).status, 200);
  const [dev] = await h.db.sql`SELECT display_name FROM devices WHERE user_id = ${`@bob:${SERVER}`} AND device_id = 'BOBPHONE'`;
  assert.equal(dev?.display_name, 'Phone');
});

test('m.login.token: valid once, not after expiry, not for deactivated users', async () => {
  const token = await createLoginToken(h.db.sql, alice, { now: h.clock.now });
  const ok = await h.call('POST', '/_matrix/client/v3/login', { body: { type: 'm.login.token', token } });
  assert.equal(ok.status, 200);
  assert.equal(ok.json.user_id, alice);
  const again = await h.call('POST', '/_matrix/client/v3/login', { body: { type: 'm.login.token', token } });
  assert.deepEqual([again.status, again.json.errcode], [403, 'M_FORBIDDEN']);

  const old = await createLoginToken(h.db.sql, alice, { now: h.clock.now - 3 * 60 * 1000 });
  const expired = await h.call('POST', '/_matrix/client/v3/login', { body: { type: 'm.login.token', token: old } });
  assert.deepEqual([expired.status, expired.json.errcode], [403, 'M_FORBIDDEN']);
  const bogus = await h.call('POST', '/_matrix/client/v3/login', { body: { type: 'm.login.token', token: 'hslt_nothing' } });
  assert.equal(bogus.status, 403);
  // Stored hashed, not in clear.
  const stored = await h.db.sql`SELECT 1 FROM login_tokens WHERE token_hash = ${hashToken(token)}`;
  assert.equal(stored.length, 1);

  const dee = await register(h, 'dee', 'pw-dee');
  const deeToken = await createLoginToken(h.db.sql, dee.user_id, { now: h.clock.now });
  await h.db.sql`UPDATE users SET deactivated = TRUE WHERE user_id = ${dee.user_id}`;
  const r = await h.call('POST', '/_matrix/client/v3/login', { body: { type: 'm.login.token', token: deeToken } });
  assert.deepEqual([r.status, r.json.errcode], [403, 'M_USER_DEACTIVATED']);
});

test('authenticator: missing, malformed, unknown, query parameter, mixed sources', async () => {
  const me = await login(h, 'alice', 'pw-alice');
  const token = String(me.json.access_token);
  assert.deepEqual((await h.call('GET', WHOAMI)).json.errcode, 'M_MISSING_TOKEN');
  const bad = await h.call('GET', WHOAMI, { headers: { authorization: 'Basic abc' } });
  assert.deepEqual([bad.status, bad.json.errcode], [401, 'M_MISSING_TOKEN']);
  const unknown = await h.call('GET', WHOAMI, { token: 'hsat_made_up' });
  assert.deepEqual([unknown.status, unknown.json.errcode, unknown.json.soft_logout], [401, 'M_UNKNOWN_TOKEN', undefined]);
  const viaQuery = await h.call('GET', `${WHOAMI}?access_token=${encodeURIComponent(token)}`);
  assert.deepEqual([viaQuery.status, viaQuery.json.user_id], [200, alice]);
  const mixed = await h.call('GET', `${WHOAMI}?access_token=${encodeURIComponent(token)}`, { token });
  assert.deepEqual([mixed.status, mixed.json.errcode], [401, 'M_MISSING_TOKEN']);
  // Tokens are stored as sha256, never in clear.
  const clear = await h.db.sql`SELECT 1 FROM access_tokens WHERE token_hash = ${Buffer.from(token)}`;
  const hashed = await h.db.sql`SELECT 1 FROM access_tokens WHERE token_hash = ${hashToken(token)}`;
  assert.deepEqual([clear.length, hashed.length], [0, 1]);
});

test('authenticator: deactivated users are refused even with a surviving token', async () => {
  const eve = await register(h, 'eve', 'pw-eve');
  assert.equal((await h.call('GET', WHOAMI, { token: eve.access_token })).status, 200);
  await h.db.sql`UPDATE users SET deactivated = TRUE WHERE user_id = ${eve.user_id}`;
  h.clock.now += 11_000; // past the token cache's lifetime
  const r = await h.call('GET', WHOAMI, { token: eve.access_token });
  assert.deepEqual([r.status, r.json.errcode], [401, 'M_UNKNOWN_TOKEN']);
});

test('authenticator: admin flag reaches the requester', async () => {
  const root = await register(h, 'root', 'pw-root');
  const list = () => h.call('GET', '/_synapse/admin/v1/registration_tokens', { token: root.access_token });
  assert.equal((await list()).status, 403);
  await h.db.sql`UPDATE users SET admin = TRUE WHERE user_id = ${root.user_id}`;
  h.clock.now += 11_000;
  assert.equal((await list()).status, 200);
});

test('last seen: recorded on the device, written at most once a minute', async () => {
  const me = await login(h, 'alice', 'pw-alice', { device_id: 'SEENDEV' });
  const token = String(me.json.access_token);
  const seen = async () => (await h.db.sql`SELECT last_seen_ts, last_seen_ip, last_seen_user_agent FROM devices WHERE user_id = ${alice} AND device_id = 'SEENDEV'`)[0];
  assert.equal((await seen())?.last_seen_ts, null);
  const t0 = h.clock.now;
  await h.call('GET', WHOAMI, { token, headers: { 'user-agent': 'TestClient/1' } });
  await h.auth.flushLastSeen();
  const first = await seen();
  assert.equal(first?.last_seen_ts, t0);
  assert.equal(first?.last_seen_ip, '127.0.0.1');
  assert.equal(first?.last_seen_user_agent, 'TestClient/1');
  h.clock.now += 30_000;
  await h.call('GET', WHOAMI, { token });
  await h.auth.flushLastSeen();
  assert.equal((await seen())?.last_seen_ts, t0, 'no write within the minute');
  h.clock.now += 31_000;
  await h.call('GET', WHOAMI, { token });
  await h.auth.flushLastSeen();
  assert.equal((await seen())?.last_seen_ts, h.clock.now);
  const dev = await h.call('GET', '/_matrix/client/v3/devices/SEENDEV', { token });
  assert.equal(dev.json.last_seen_ts, h.clock.now);
  assert.equal(dev.json.last_seen_ip, '127.0.0.1');
});

test('logout deletes the device and its token at once (cache included); others keep working', async () => {
  const a = await login(h, 'alice', 'pw-alice');
  const b = await login(h, 'alice', 'pw-alice');
  const tokA = String(a.json.access_token);
  assert.equal((await h.call('GET', WHOAMI, { token: tokA })).status, 200); // now cached
  h.hooks.devices.length = 0;
  const out = await h.call('POST', '/_matrix/client/v3/logout', { token: tokA, body: {} });
  assert.deepEqual([out.status, out.json], [200, {}]);
  assert.equal((await h.call('GET', WHOAMI, { token: tokA })).json.errcode, 'M_UNKNOWN_TOKEN');
  assert.equal((await h.call('GET', WHOAMI, { token: String(b.json.access_token) })).status, 200);
  const dev = await h.db.sql`SELECT 1 FROM devices WHERE user_id = ${alice} AND device_id = ${String(a.json.device_id)}`;
  assert.equal(dev.length, 0);
  assert.deepEqual(h.hooks.devices, [{ userId: alice, deviceIds: [a.json.device_id] }]);
  const again = await h.call('POST', '/_matrix/client/v3/logout', { token: tokA });
  assert.equal(again.status, 401);
});

test('logout/all removes every device and token of the user only', async () => {
  const fred = await register(h, 'fred', 'pw-fred');
  const second = await login(h, 'fred', 'pw-fred');
  const bob = await login(h, 'bob', 'pw-bob');
  const out = await h.call('POST', '/_matrix/client/r0/logout/all', { token: fred.access_token });
  assert.equal(out.status, 200);
  assert.equal((await h.call('GET', WHOAMI, { token: fred.access_token })).status, 401);
  assert.equal((await h.call('GET', WHOAMI, { token: String(second.json.access_token) })).status, 401);
  assert.equal((await h.call('GET', WHOAMI, { token: String(bob.json.access_token) })).status, 200);
  const left = await h.db.sql`SELECT 1 FROM devices WHERE user_id = ${fred.user_id}`;
  assert.equal(left.length, 0);
  // The account itself still works.
  assert.equal((await login(h, 'fred', 'pw-fred')).status, 200);
});

test('refresh: expiring tokens, soft logout on expiry, rotation and retirement of old tokens', async () => {
  const r = await login(h, 'alice', 'pw-alice', { refresh_token: true });
  assert.equal(r.json.expires_in_ms, 300_000);
  const access1 = String(r.json.access_token);
  const refresh1 = String(r.json.refresh_token);
  assert.equal((await h.call('GET', WHOAMI, { token: access1 })).status, 200);

  h.clock.now += 300_001;
  const expired = await h.call('GET', WHOAMI, { token: access1 });
  assert.deepEqual([expired.status, expired.json.errcode, expired.json.soft_logout], [401, 'M_UNKNOWN_TOKEN', true]);

  const ref = await h.call('POST', '/_matrix/client/v3/refresh', { body: { refresh_token: refresh1 } });
  assert.equal(ref.status, 200, JSON.stringify(ref.json));
  assert.equal(ref.json.expires_in_ms, 300_000);
  const access2 = String(ref.json.access_token);
  const refresh2 = String(ref.json.refresh_token);
  assert.notEqual(refresh2, refresh1);

  // Until the new tokens are used, the old refresh token may be replayed (lost response).
  const replay = await h.call('POST', '/_matrix/client/v3/refresh', { body: { refresh_token: refresh1 } });
  assert.equal(replay.status, 200);
  const access2b = String(replay.json.access_token);
  const refresh2b = String(replay.json.refresh_token);
  // The first (unused) successor was dropped by the replay.
  assert.equal((await h.call('GET', WHOAMI, { token: access2 })).status, 401);
  assert.equal((await h.call('POST', '/_matrix/client/v3/refresh', { body: { refresh_token: refresh2 } })).status, 401);

  // Using the new access token retires the old refresh token.
  const who = await h.call('GET', WHOAMI, { token: access2b });
  assert.equal(who.status, 200);
  assert.equal(who.json.device_id, r.json.device_id, 'refreshed tokens stay on the same device');
  const stale = await h.call('POST', '/_matrix/client/v3/refresh', { body: { refresh_token: refresh1 } });
  assert.deepEqual([stale.status, stale.json.errcode], [401, 'M_UNKNOWN_TOKEN']);

  // Refreshing the successor twice in a row: the first successor is superseded once refreshed.
  const ref3 = await h.call('POST', '/_matrix/client/v3/refresh', { body: { refresh_token: refresh2b } });
  assert.equal(ref3.status, 200);
  const ref4 = await h.call('POST', '/_matrix/client/v3/refresh', { body: { refresh_token: String(ref3.json.refresh_token) } });
  assert.equal(ref4.status, 200);
  const superseded = await h.call('POST', '/_matrix/client/v3/refresh', { body: { refresh_token: refresh2b } });
  assert.deepEqual([superseded.status, superseded.json.errcode, superseded.json.soft_logout], [401, 'M_UNKNOWN_TOKEN', true]);

  const unknown = await h.call('POST', '/_matrix/client/v3/refresh', { body: { refresh_token: 'hsrt_nope' } });
  assert.deepEqual([unknown.status, unknown.json.errcode, unknown.json.soft_logout], [401, 'M_UNKNOWN_TOKEN', undefined]);
  for (const body of [{}, { refresh_token: 5 }]) {
    const bad = await h.call('POST', '/_matrix/client/v3/refresh', { body });
    assert.equal(bad.status, 400, JSON.stringify(body));
  }
});

test('refresh tokens die with their device', async () => {
  const r = await login(h, 'bob', 'pw-bob', { refresh_token: true });
  await h.call('POST', '/_matrix/client/v3/logout', { token: String(r.json.access_token) });
  const ref = await h.call('POST', '/_matrix/client/v3/refresh', { body: { refresh_token: String(r.json.refresh_token) } });
  assert.deepEqual([ref.status, ref.json.errcode], [401, 'M_UNKNOWN_TOKEN']);
});

test('with refresh tokens disabled, clients asking for one get a non-expiring token', async () => {
  const noRefresh = await startHarness({ refreshableAccessTokenLifetimeMs: null }, { db: h.db });
  try {
    const r = await login(noRefresh, 'alice', 'pw-alice', { refresh_token: true });
    assert.equal(r.status, 200);
    assert.equal(r.json.refresh_token, undefined);
    assert.equal(r.json.expires_in_ms, undefined);
  } finally {
    await noRefresh.close();
  }
});

