import test from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { registerWithSharedSecret, SharedSecretRegistrationError } from '../src/shared-secret-client.ts';
import { sharedSecretMac } from '../src/shared-secret-mac.ts';
import { SECRET, SERVER, login, startHarness, type Harness } from './support.ts';

let h: Harness;
let adminToken: string;
test.before(async () => {
  h = await startHarness();
  const admin = await registerWithSharedSecret(h.app.baseUrl, SECRET, { username: 'root', password: 'root-pw', admin: true });
  adminToken = String(admin.access_token);
});
test.after(() => h.close());

const URL_ = '/_synapse/admin/v1/register';

/** Synapse's documented construction, written out independently of the code under test. */
function referenceMac(secret: string, nonce: string, user: string, password: string, admin: boolean, userType?: string): string {
  const parts = [nonce, user, password, admin ? 'admin' : 'notadmin', ...(userType ? [userType] : [])];
  return createHmac('sha1', secret).update(Buffer.from(parts.join('\x00'), 'utf8')).digest('hex');
}

async function nonce(): Promise<string> {
  const r = await h.call('GET', URL_);
  assert.equal(r.status, 200);
  assert.match(String(r.json.nonce), /^[A-Za-z0-9]{64}$/);
  return String(r.json.nonce);
}

test('the MAC is hex HMAC-SHA1 over NUL-separated fields, user_type only when given', () => {
  assert.equal(sharedSecretMac('k', { nonce: 'n', username: 'u', password: 'p', admin: true }), referenceMac('k', 'n', 'u', 'p', true));
  assert.equal(sharedSecretMac('k', { nonce: 'n', username: 'u', password: 'p', admin: false, userType: 'bot' }), referenceMac('k', 'n', 'u', 'p', false, 'bot'));
  // Pinned against a digest computed outside this codebase (openssl, as in Synapse's docs):
  // printf 'abc\0pepper_roni\0pizza\0admin' | openssl sha1 -hmac shared_secret
  assert.equal(sharedSecretMac('shared_secret', { nonce: 'abc', username: 'pepper_roni', password: 'pizza', admin: true }), '51a6f66c509238173c23a7eddf35693d55b40eba');
  // ...and with a user type, against Synapse's Python recipe.
  assert.equal(
    sharedSecretMac('shared_secret', { nonce: 'abc', username: 'pepper_roni', password: 'pizza', admin: false, userType: 'bot' }),
    '6419b024188d8530ead749482360978224931222',
  );
  assert.notEqual(referenceMac('k', 'n', 'u', 'p', true), referenceMac('k', 'n', 'u', 'p', false));
});

test('shared-secret registration: creates an admin user with a login; the admin flag reaches the requester', async () => {
  const n = await nonce();
  const r = await h.call('POST', URL_, {
    body: { nonce: n, username: 'Pepper_Roni', password: 'pizza', admin: true, displayname: 'Pepper', mac: referenceMac(SECRET, n, 'Pepper_Roni', 'pizza', true) },
  });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.user_id, `@pepper_roni:${SERVER}`);
  assert.equal(r.json.home_server, SERVER);
  assert.equal(typeof r.json.access_token, 'string');
  assert.equal(typeof r.json.device_id, 'string');
  const list = await h.call('GET', '/_synapse/admin/v1/registration_tokens', { token: String(r.json.access_token) });
  assert.equal(list.status, 200, 'admins may use the Admin API');
  assert.deepEqual((await h.call('GET', `/_matrix/client/v3/profile/${encodeURIComponent(String(r.json.user_id))}`)).json, { displayname: 'Pepper' });
  assert.equal((await login(h, 'pepper_roni', 'pizza')).status, 200);
});

test('shared-secret registration: non-admin with user_type; inhibit_login', async () => {
  const n = await nonce();
  const r = await h.call('POST', URL_, {
    body: { nonce: n, username: 'botty', password: 'pw', admin: false, user_type: 'bot', inhibit_login: true, mac: referenceMac(SECRET, n, 'botty', 'pw', false, 'bot') },
  });
  assert.deepEqual([r.status, r.json], [200, { user_id: `@botty:${SERVER}`, home_server: SERVER }]);
  const [row] = await h.db.sql`SELECT admin, user_type FROM users WHERE user_id = ${`@botty:${SERVER}`}`;
  assert.deepEqual(row, { admin: false, user_type: 'bot' });
  const tok = String((await login(h, 'botty', 'pw')).json.access_token);
  assert.equal((await h.call('GET', '/_synapse/admin/v1/registration_tokens', { token: tok })).status, 403);
});

test('shared-secret registration: bad MAC, reused nonce, unknown and expired nonces', async () => {
  const n = await nonce();
  const wrongAdmin = await h.call('POST', URL_, { body: { nonce: n, username: 'mal', password: 'pw', admin: true, mac: referenceMac(SECRET, n, 'mal', 'pw', false) } });
  assert.deepEqual([wrongAdmin.status, wrongAdmin.json.errcode], [403, 'M_FORBIDDEN']);
  // The nonce was spent by the failed attempt.
  const reuse = await h.call('POST', URL_, { body: { nonce: n, username: 'mal', password: 'pw', admin: false, mac: referenceMac(SECRET, n, 'mal', 'pw', false) } });
  assert.deepEqual([reuse.status, reuse.json.errcode], [400, 'M_UNKNOWN']);

  const n2 = await nonce();
  const ok = await h.call('POST', URL_, { body: { nonce: n2, username: 'once', password: 'pw', mac: referenceMac(SECRET, n2, 'once', 'pw', false) } });
  assert.equal(ok.status, 200);
  const replay = await h.call('POST', URL_, { body: { nonce: n2, username: 'twice', password: 'pw', mac: referenceMac(SECRET, n2, 'twice', 'pw', false) } });
  assert.deepEqual([replay.status, replay.json.errcode], [400, 'M_UNKNOWN']);

  const wrongSecret = await nonce();
  const ws = await h.call('POST', URL_, { body: { nonce: wrongSecret, username: 'mal', password: 'pw', mac: referenceMac('guess', wrongSecret, 'mal', 'pw', false) } });
  assert.equal(ws.status, 403);
  const garbage = await nonce();
  const gm = await h.call('POST', URL_, { body: { nonce: garbage, username: 'mal', password: 'pw', mac: 'zz' } });
  assert.equal(gm.status, 403);

  const made = await h.call('POST', URL_, { body: { nonce: 'never-issued', username: 'mal', password: 'pw', mac: referenceMac(SECRET, 'never-issued', 'mal', 'pw', false) } });
  assert.equal(made.status, 400);

  const old = await nonce();
  h.clock.now += 61_000;
  const expired = await h.call('POST', URL_, { body: { nonce: old, username: 'late', password: 'pw', mac: referenceMac(SECRET, old, 'late', 'pw', false) } });
  assert.deepEqual([expired.status, expired.json.errcode], [400, 'M_UNKNOWN']);
  assert.equal(((await h.db.sql`SELECT 1 FROM users WHERE user_id IN (${`@mal:${SERVER}`}, ${`@late:${SERVER}`}, ${`@twice:${SERVER}`})`)).length, 0);
});

test('shared-secret registration: invalid fields and malformed bodies', async () => {
  const cases: [(n: string) => unknown, number, string][] = [
    [(n) => ({ nonce: n, username: 'ok1', password: 'pw', user_type: 'wizard', mac: referenceMac(SECRET, n, 'ok1', 'pw', false, 'wizard') }), 400, 'M_INVALID_PARAM'],
    [(n) => ({ nonce: n, username: 'bad name', password: 'pw', mac: referenceMac(SECRET, n, 'bad name', 'pw', false) }), 400, 'M_INVALID_USERNAME'],
    [(n) => ({ nonce: n, username: 'root', password: 'pw', mac: referenceMac(SECRET, n, 'root', 'pw', false) }), 400, 'M_USER_IN_USE'],
    [(n) => ({ nonce: n, username: 'nul\u0000l', password: 'pw', mac: 'x' }), 400, 'M_INVALID_PARAM'],
    [(n) => ({ nonce: n, username: 'ok2', password: 'pw' }), 400, 'M_MISSING_PARAM'],
    [(n) => ({ nonce: n, username: 'ok2', password: 'pw', mac: 'x', admin: 'yes' }), 400, 'M_BAD_JSON'],
    [(n) => ({ nonce: n, username: 5, password: 'pw', mac: 'x' }), 400, 'M_BAD_JSON'],
    [() => ({ username: 'x', password: 'pw', mac: 'x' }), 400, 'M_MISSING_PARAM'],
  ];
  for (const [make, status, code] of cases) {
    const body = make(await nonce());
    const r = await h.call('POST', URL_, { body });
    assert.deepEqual([r.status, r.json.errcode], [status, code], JSON.stringify(body));
  }
});

test('shared-secret registration is off without a secret', async () => {
  const off = await startHarness({ registrationSharedSecret: null }, { db: h.db });
  try {
    const g = await off.call('GET', URL_);
    assert.equal(g.status, 400);
    const p = await off.call('POST', URL_, { body: { nonce: 'n', username: 'u', password: 'p', mac: 'm' } });
    assert.equal(p.status, 400);
    await assert.rejects(registerWithSharedSecret(off.app.baseUrl, SECRET, { username: 'u', password: 'p', admin: false }), SharedSecretRegistrationError);
  } finally {
    await off.close();
  }
});

test('registerWithSharedSecret: the client the CLI uses; wrong secret fails with the errcode', async () => {
  const made = await registerWithSharedSecret(`${h.app.baseUrl}/`, SECRET, { username: 'cli_user', password: 'pw', admin: false, userType: 'support' });
  assert.equal(made.user_id, `@cli_user:${SERVER}`);
  const [row] = await h.db.sql`SELECT admin, user_type FROM users WHERE user_id = ${made.user_id}`;
  assert.deepEqual(row, { admin: false, user_type: 'support' });
  const err = await registerWithSharedSecret(h.app.baseUrl, 'wrong', { username: 'nope', password: 'pw', admin: true }).catch((e: unknown) => e);
  assert.ok(err instanceof SharedSecretRegistrationError);
  assert.deepEqual([err.status, err.errcode], [403, 'M_FORBIDDEN']);
});

test('registration tokens Admin API: create, list, get, update, delete, validity', async () => {
  const base = '/_synapse/admin/v1/registration_tokens';
  const t = { token: adminToken };
  const created = await h.call('POST', `${base}/new`, { ...t, body: { token: 'abcd', uses_allowed: 3 } });
  assert.deepEqual(created.json, { token: 'abcd', uses_allowed: 3, pending: 0, completed: 0, expiry_time: null });
  const random = await h.call('POST', `${base}/new`, { ...t, body: {} });
  assert.match(String(random.json.token), /^[A-Za-z0-9._~-]{16}$/);
  const short = await h.call('POST', `${base}/new`, { ...t, body: { length: 5, expiry_time: h.clock.now + 60_000 } });
  assert.equal(String(short.json.token).length, 5);
  const dup = await h.call('POST', `${base}/new`, { ...t, body: { token: 'abcd' } });
  assert.deepEqual([dup.status, dup.json.errcode], [400, 'M_INVALID_PARAM']);

  const got = await h.call('GET', `${base}/abcd`, t);
  assert.deepEqual(got.json, created.json);
  const missing = await h.call('GET', `${base}/zzzz`, t);
  assert.deepEqual([missing.status, missing.json], [404, { errcode: 'M_NOT_FOUND', error: 'No such registration token: zzzz' }]);

  const upd = await h.call('PUT', `${base}/abcd`, { ...t, body: { expiry_time: h.clock.now + 1000 } });
  assert.deepEqual(upd.json, { token: 'abcd', uses_allowed: 3, pending: 0, completed: 0, expiry_time: h.clock.now + 1000 });
  const upd2 = await h.call('PUT', `${base}/abcd`, { ...t, body: { uses_allowed: null } });
  assert.deepEqual([upd2.json.uses_allowed, upd2.json.expiry_time], [null, h.clock.now + 1000]);
  assert.equal((await h.call('PUT', `${base}/zzzz`, { ...t, body: {} })).status, 404);

  const validity = (tok: string) => h.call('GET', `/_matrix/client/v1/register/m.login.registration_token/validity?token=${tok}`);
  assert.deepEqual((await validity('abcd')).json, { valid: true });
  assert.deepEqual((await validity('unknown')).json, { valid: false });
  assert.equal((await h.call('GET', '/_matrix/client/v1/register/m.login.registration_token/validity')).status, 400);

  await h.call('PUT', `${base}/abcd`, { ...t, body: { uses_allowed: 0 } });
  assert.deepEqual((await validity('abcd')).json, { valid: false });
  const all = await h.call('GET', base, t);
  assert.equal((all.json.registration_tokens as unknown[]).length, 3);
  const invalid = await h.call('GET', `${base}?valid=false`, t);
  assert.deepEqual((invalid.json.registration_tokens as { token: string }[]).map((x) => x.token), ['abcd']);
  const valid = await h.call('GET', `${base}?valid=true`, t);
  assert.equal((valid.json.registration_tokens as unknown[]).length, 2);
  assert.equal((await h.call('GET', `${base}?valid=maybe`, t)).status, 400);

  assert.deepEqual((await h.call('DELETE', `${base}/abcd`, t)).json, {});
  assert.equal((await h.call('DELETE', `${base}/abcd`, t)).status, 404);

  for (const body of [{ token: 'bad token!' }, { token: 'x'.repeat(65) }, { uses_allowed: -1 }, { length: 0 }, { length: 65 }, { expiry_time: 1 }, { uses_allowed: 'many' }, { expiry_time: 1.5 }]) {
    const r = await h.call('POST', `${base}/new`, { ...t, body });
    assert.equal(r.status, 400, JSON.stringify(body));
  }
  for (const body of [{ uses_allowed: -1 }, { expiry_time: 'soon' }, { expiry_time: 5 }]) {
    const r = await h.call('PUT', `${base}/${String(random.json.token)}`, { ...t, body });
    assert.equal(r.status, 400, JSON.stringify(body));
  }

  // Admin only.
  const plain = String((await login(h, 'botty', 'pw')).json.access_token);
  for (const [method, path, body] of [['GET', base], ['POST', `${base}/new`, {}], ['GET', `${base}/x`], ['PUT', `${base}/x`, {}], ['DELETE', `${base}/x`]] as const) {
    const r = await h.call(method, path, { token: plain, body });
    assert.deepEqual([r.status, r.json.errcode], [403, 'M_FORBIDDEN'], `${method} ${path}`);
    assert.equal((await h.call(method, path, { body })).status, 401);
  }
});
