import test from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '@hs/core';
import { login, passwordAuth, register, startHarness, type Harness } from './support.ts';

let h: Harness;
test.before(async () => {
  h = await startHarness();
});
test.after(() => h.close());

const WHOAMI = '/_matrix/client/v3/account/whoami';

test('devices: list, get, rename (hook), 404s, own devices only', async () => {
  const a = await register(h, 'dana', 'pw', { device_id: 'DANA1', initial_device_display_name: 'Laptop' });
  await login(h, 'dana', 'pw', { device_id: 'DANA2' });
  const other = await register(h, 'otto', 'pw', { device_id: 'OTTO1' });
  const token = a.access_token;

  const list = await h.call('GET', '/_matrix/client/v3/devices', { token });
  assert.equal(list.status, 200);
  assert.deepEqual((list.json.devices as { device_id: string }[]).map((d) => d.device_id), ['DANA1', 'DANA2']);
  assert.deepEqual((list.json.devices as Record<string, unknown>[])[0], { device_id: 'DANA1', display_name: 'Laptop' });

  const one = await h.call('GET', '/_matrix/client/v3/devices/DANA1', { token });
  assert.deepEqual(one.json, { device_id: 'DANA1', display_name: 'Laptop' });
  const missing = await h.call('GET', '/_matrix/client/v3/devices/NOPE', { token });
  assert.deepEqual([missing.status, missing.json.errcode], [404, 'M_NOT_FOUND']);
  const foreign = await h.call('GET', '/_matrix/client/v3/devices/OTTO1', { token });
  assert.equal(foreign.status, 404);

  h.hooks.devices.length = 0;
  const rename = await h.call('PUT', '/_matrix/client/v3/devices/DANA2', { token, body: { display_name: 'Phone' } });
  assert.deepEqual([rename.status, rename.json], [200, {}]);
  assert.equal((await h.call('GET', '/_matrix/client/v3/devices/DANA2', { token })).json.display_name, 'Phone');
  assert.deepEqual(h.hooks.devices, [{ userId: a.user_id, deviceIds: ['DANA2'] }]);
  const noop = await h.call('PUT', '/_matrix/client/v3/devices/DANA2', { token, body: {} });
  assert.equal(noop.status, 200);
  assert.equal(h.hooks.devices.length, 1, 'no change, no hook');

  const putMissing = await h.call('PUT', '/_matrix/client/v3/devices/NOPE', { token, body: { display_name: 'x' } });
  assert.deepEqual([putMissing.status, putMissing.json.errcode], [404, 'M_NOT_FOUND']);
  const putForeign = await h.call('PUT', '/_matrix/client/v3/devices/OTTO1', { token, body: { display_name: 'mine now' } });
  assert.equal(putForeign.status, 404);
  const long = await h.call('PUT', '/_matrix/client/v3/devices/DANA2', { token, body: { display_name: 'x'.repeat(101) } });
  assert.deepEqual([long.status, long.json.errcode], [400, 'M_TOO_LARGE']);
  for (const body of [{ display_name: 5 }, { display_name: null }]) {
    const bad = await h.call('PUT', '/_matrix/client/v3/devices/DANA2', { token, body });
    assert.deepEqual([bad.status, bad.json.errcode], [400, 'M_BAD_JSON'], JSON.stringify(body));
  }
  const notJson = await h.call('PUT', '/_matrix/client/v3/devices/DANA2', { token, raw: 'nope' });
  assert.equal(notJson.status, 400);
  assert.equal((await h.call('GET', '/_matrix/client/v3/devices')).status, 401);
  assert.equal((await h.call('GET', '/_matrix/client/v3/devices', { token: other.access_token })).status, 200);
});

test('DELETE /devices/{id}: UIA with the password, then the device and its tokens are gone', async () => {
  const me = await register(h, 'ella', 'pw-ella', { device_id: 'ELLA1' });
  const second = await login(h, 'ella', 'pw-ella', { device_id: 'ELLA2' });
  const token = me.access_token;
  const path = '/_matrix/client/v3/devices/ELLA2';

  const noBody = await fetch(h.app.baseUrl + path, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
  const first = { status: noBody.status, json: (await noBody.json()) as Record<string, unknown> };
  assert.equal(first.status, 401);
  assert.deepEqual(first.json.flows, [{ stages: ['m.login.password'] }]);
  const s = first.json.session;

  const wrong = await h.call('DELETE', path, { token, body: { auth: passwordAuth('ella', s, 'nope') } });
  assert.deepEqual([wrong.status, wrong.json.errcode], [401, 'M_FORBIDDEN']);
  assert.equal((await h.call('GET', WHOAMI, { token: String(second.json.access_token) })).status, 200);

  h.hooks.devices.length = 0;
  const ok = await h.call('DELETE', path, { token, body: { auth: passwordAuth('ella', s, 'pw-ella') } });
  assert.deepEqual([ok.status, ok.json], [200, {}]);
  assert.equal((await h.call('GET', WHOAMI, { token: String(second.json.access_token) })).json.errcode, 'M_UNKNOWN_TOKEN');
  assert.equal((await h.call('GET', path, { token })).status, 404);
  assert.deepEqual(h.hooks.devices, [{ userId: me.user_id, deviceIds: ['ELLA2'] }]);

  // A session for one device cannot delete another.
  const other = await h.call('DELETE', '/_matrix/client/v3/devices/ELLA1', { token, body: { auth: passwordAuth('ella', s, 'pw-ella') } });
  assert.equal(other.status, 403);
  // Deleting a device that is already gone succeeds.
  const gone = await h.call('DELETE', '/_matrix/client/v3/devices/ELLA3', { token, body: {} });
  const done = await h.call('DELETE', '/_matrix/client/v3/devices/ELLA3', { token, body: { auth: passwordAuth('ella', gone.json.session, 'pw-ella') } });
  assert.equal(done.status, 200);
  const bad = await h.call('DELETE', path, { token, body: { auth: 'x' } });
  assert.deepEqual([bad.status, bad.json.errcode], [400, 'M_BAD_JSON']);
});

test('POST /delete_devices: UIA, then several devices and their tokens are gone; others stay', async () => {
  const me = await register(h, 'fay', 'pw-fay', { device_id: 'FAY0' });
  const tokens: string[] = [];
  for (const d of ['FAY1', 'FAY2', 'FAY3']) tokens.push(String((await login(h, 'fay', 'pw-fay', { device_id: d })).json.access_token));
  const url = '/_matrix/client/v3/delete_devices';
  const first = await h.call('POST', url, { token: me.access_token, body: { devices: ['FAY1', 'FAY2', 'NOTMINE'] } });
  assert.equal(first.status, 401);
  const ok = await h.call('POST', url, { token: me.access_token, body: { devices: ['FAY1', 'FAY2', 'NOTMINE'], auth: passwordAuth('fay', first.json.session, 'pw-fay') } });
  assert.equal(ok.status, 200);
  assert.equal((await h.call('GET', WHOAMI, { token: tokens[0] })).status, 401);
  assert.equal((await h.call('GET', WHOAMI, { token: tokens[1] })).status, 401);
  assert.equal((await h.call('GET', WHOAMI, { token: tokens[2] })).status, 200);
  const left = await h.call('GET', '/_matrix/client/v3/devices', { token: me.access_token });
  assert.deepEqual((left.json.devices as { device_id: string }[]).map((d) => d.device_id), ['FAY0', 'FAY3']);
  for (const body of [{}, { devices: 'FAY3' }, { devices: [1] }]) {
    const bad = await h.call('POST', url, { token: me.access_token, body });
    assert.equal(bad.status, 400, JSON.stringify(body));
  }
});

test('password change: UIA, new password works, other devices logged out unless logout_devices is false', async () => {
  const me = await register(h, 'gil', 'old-pw', { device_id: 'GIL1' });
  const other = await login(h, 'gil', 'old-pw', { device_id: 'GIL2' });
  const url = '/_matrix/client/v3/account/password';
  const first = await h.call('POST', url, { token: me.access_token, body: { new_password: 'new-pw' } });
  assert.equal(first.status, 401);
  const [stored] = await h.db.sql`SELECT clientdict FROM ui_auth_sessions WHERE session_id = ${String(first.json.session)}`;
  assert.equal((stored?.clientdict as Record<string, unknown>).new_password, undefined, 'new password not kept in the session');
  const wrong = await h.call('POST', url, { token: me.access_token, body: { new_password: 'new-pw', auth: passwordAuth('gil', first.json.session, 'nope') } });
  assert.deepEqual([wrong.status, wrong.json.errcode], [401, 'M_FORBIDDEN']);
  const ok = await h.call('POST', url, { token: me.access_token, body: { new_password: 'new-pw', auth: passwordAuth('gil', first.json.session, 'old-pw') } });
  assert.deepEqual([ok.status, ok.json], [200, {}]);
  assert.equal((await h.call('GET', WHOAMI, { token: me.access_token })).status, 200, 'the requesting token stays');
  assert.equal((await h.call('GET', WHOAMI, { token: String(other.json.access_token) })).status, 401);
  assert.equal((await login(h, 'gil', 'old-pw')).status, 403);
  const fresh = await login(h, 'gil', 'new-pw');
  assert.equal(fresh.status, 200);

  const s2 = (await h.call('POST', url, { token: me.access_token, body: { new_password: 'newer-pw', logout_devices: false } })).json.session;
  const kept = await h.call('POST', url, { token: me.access_token, body: { new_password: 'newer-pw', logout_devices: false, auth: passwordAuth('gil', s2, 'new-pw') } });
  assert.equal(kept.status, 200);
  assert.equal((await h.call('GET', WHOAMI, { token: String(fresh.json.access_token) })).status, 200, 'other devices kept');
  assert.equal((await login(h, 'gil', 'newer-pw')).status, 200);

  for (const [body, code] of [[{}, 'M_MISSING_PARAM'], [{ new_password: 5 }, 'M_BAD_JSON'], [{ new_password: 'x', logout_devices: 'no' }, 'M_BAD_JSON'], [{ new_password: 'x'.repeat(513) }, 'M_INVALID_PARAM']] as const) {
    const bad = await h.call('POST', url, { token: me.access_token, body });
    assert.deepEqual([bad.status, bad.json.errcode], [400, code], JSON.stringify(body));
  }
  assert.equal((await h.call('POST', url, { body: { new_password: 'x' } })).status, 401);
});

test('deactivation: UIA, tokens and devices gone, login refused, name stays taken, hooks called', async () => {
  const me = await register(h, 'hal', 'pw-hal');
  const other = await login(h, 'hal', 'pw-hal');
  await h.call('PUT', `/_matrix/client/v3/profile/${encodeURIComponent(me.user_id)}/displayname`, { token: me.access_token, body: { displayname: 'Hal' } });
  const url = '/_matrix/client/v3/account/deactivate';
  const first = await h.call('POST', url, { token: me.access_token, body: { erase: true } });
  assert.equal(first.status, 401);
  h.hooks.devices.length = 0;
  h.hooks.profiles.length = 0;
  const ok = await h.call('POST', url, { token: me.access_token, body: { auth: passwordAuth('hal', first.json.session, 'pw-hal') } });
  assert.deepEqual([ok.status, ok.json], [200, { id_server_unbind_result: 'success' }]);
  assert.equal((await h.call('GET', WHOAMI, { token: me.access_token })).status, 401);
  assert.equal((await h.call('GET', WHOAMI, { token: String(other.json.access_token) })).status, 401);
  assert.deepEqual([(await login(h, 'hal', 'pw-hal')).status], [403]);
  const [row] = await h.db.sql`SELECT deactivated, erased, password_hash FROM users WHERE user_id = ${me.user_id}`;
  assert.deepEqual(row, { deactivated: true, erased: true, password_hash: null });
  const devices = await h.db.sql`SELECT 1 FROM devices WHERE user_id = ${me.user_id}`;
  assert.equal(devices.length, 0);
  assert.deepEqual(h.hooks.deactivated.at(-1), me.user_id);
  assert.equal(h.hooks.devices.length, 1);
  assert.equal(h.hooks.devices[0]?.deviceIds.length, 2);
  assert.deepEqual(h.hooks.profiles, [{ userId: me.user_id, profile: {} }], 'erase clears the profile');
  const again = await h.call('POST', '/_matrix/client/v3/register', { body: { username: 'hal', password: 'x' } });
  assert.equal(again.json.errcode, 'M_USER_IN_USE');

  const keep = await register(h, 'ivy', 'pw-ivy');
  const s = (await h.call('POST', url, { token: keep.access_token, body: {} })).json.session;
  await h.call('POST', url, { token: keep.access_token, body: { auth: passwordAuth('ivy', s, 'pw-ivy') } });
  const profile = await h.call('GET', `/_matrix/client/v3/profile/${encodeURIComponent(keep.user_id)}`);
  assert.deepEqual(profile.json, { displayname: 'ivy' }, 'without erase the profile stays');

  for (const body of [{ erase: 'yes' }, { id_server: 1 }, { auth: [] }]) {
    const bad = await h.call('POST', url, { token: (await register(h, `j${Math.random().toString(36).slice(2, 8)}`)).access_token, body });
    assert.deepEqual([bad.status, bad.json.errcode], [400, 'M_BAD_JSON'], JSON.stringify(body));
  }
});

test('a failing hook is logged, not turned into an error for the client', async () => {
  const logged: string[] = [];
  const log = { ...silentLogger, error: (msg: string) => void logged.push(msg) };
  const broken = await startHarness({ log, onDevicesChanged: () => Promise.reject(new Error('e2ee down')) }, { db: h.db });
  try {
    const r = await login(broken, 'dana', 'pw');
    assert.equal(r.status, 200);
    assert.deepEqual(logged, ['accounts hook onDevicesChanged failed']);
  } finally {
    await broken.close();
  }
});
