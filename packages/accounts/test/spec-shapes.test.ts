/**
 * Response shapes checked against the spec's own OpenAPI schemas (read from /work/shared at test
 * time only). Skips loudly when the spec data is not on this machine.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { assertResponseShape, specPresent } from '../../../e2e/support/openapi.ts';
import { createLoginToken } from '../src/login-tokens.ts';
import { passwordAuth, startHarness, type Harness } from './support.ts';

const haveSpec = specPresent('accounts spec-shapes');

function assertShape(file: string, apiPath: string, method: string, res: { status: number; json: unknown }): void {
  assertResponseShape(file, apiPath, method, res.status, res.json);
}

let h: Harness;
test.before(async () => {
  if (haveSpec) h = await startHarness();
});
test.after(async () => {
  if (haveSpec) await h.close();
});

test('response shapes match the spec OpenAPI', { skip: !haveSpec && 'spec data absent' }, async () => {
  const REG = '/_matrix/client/v3/register';
  const uia = await h.call('POST', REG, { body: { username: 'shape', password: 'correct horse', refresh_token: true } });
  assertShape('registration.yaml', '/register', 'post', uia);
  const reg = await h.call('POST', REG, { body: { username: 'shape', password: 'correct horse', refresh_token: true, auth: { type: 'm.login.dummy', session: uia.json.session } } });
  assert.equal(reg.status, 200);
  assertShape('registration.yaml', '/register', 'post', reg);
  assertShape('registration.yaml', '/register', 'post', await h.call('POST', REG, { body: { username: 'shape', password: 'x' } }));
  assertShape('registration.yaml', '/register/available', 'get', await h.call('GET', '/_matrix/client/v3/register/available?username=free'));
  assertShape('registration.yaml', '/register/available', 'get', await h.call('GET', '/_matrix/client/v3/register/available?username=shape'));
  assertShape('registration_tokens.yaml', '/register/m.login.registration_token/validity', 'get', await h.call('GET', '/_matrix/client/v1/register/m.login.registration_token/validity?token=x'));
  const guest = await h.call('POST', `${REG}?kind=guest`, { body: {} });
  assertShape('registration.yaml', '/register', 'post', guest);

  assertShape('login.yaml', '/login', 'get', await h.call('GET', '/_matrix/client/v3/login'));
  const login = await h.call('POST', '/_matrix/client/v3/login', { body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'shape' }, password: 'correct horse', refresh_token: true } });
  assertShape('login.yaml', '/login', 'post', login);
  const tokenLogin = await h.call('POST', '/_matrix/client/v3/login', { body: { type: 'm.login.token', token: await createLoginToken(h.db.sql, String(reg.json.user_id)) } });
  assertShape('login.yaml', '/login', 'post', tokenLogin);
  assertShape('login.yaml', '/login', 'post', await h.call('POST', '/_matrix/client/v3/login', { body: { type: 'm.login.password', user: 'shape', password: 'wrong' } }));
  assertShape('login.yaml', '/login', 'post', await h.call('POST', '/_matrix/client/v3/login', { body: { type: 'm.login.bogus' } }));

  const token = String(login.json.access_token);
  assertShape('whoami.yaml', '/account/whoami', 'get', await h.call('GET', '/_matrix/client/v3/account/whoami', { token }));
  assertShape('whoami.yaml', '/account/whoami', 'get', await h.call('GET', '/_matrix/client/v3/account/whoami', { token: 'bogus' }));
  assertShape('whoami.yaml', '/account/whoami', 'get', await h.call('GET', '/_matrix/client/v3/account/whoami', { token: String(guest.json.access_token) }));

  await h.call('PUT', `/_matrix/client/v3/devices/${String(login.json.device_id)}`, { token, body: { display_name: 'Shape phone' } });
  await h.auth.flushLastSeen();
  const devices = await h.call('GET', '/_matrix/client/v3/devices', { token });
  assert.ok((devices.json.devices as unknown[]).length >= 2);
  assertShape('device_management.yaml', '/devices', 'get', devices);
  assertShape('device_management.yaml', '/devices/{deviceId}', 'get', await h.call('GET', `/_matrix/client/v3/devices/${String(login.json.device_id)}`, { token }));
  assertShape('device_management.yaml', '/devices/{deviceId}', 'put', await h.call('PUT', `/_matrix/client/v3/devices/${String(login.json.device_id)}`, { token, body: {} }));
  const del = await h.call('POST', '/_matrix/client/v3/delete_devices', { token, body: { devices: [String(reg.json.device_id)] } });
  assertShape('device_management.yaml', '/delete_devices', 'post', del);
  assertShape('device_management.yaml', '/delete_devices', 'post', await h.call('POST', '/_matrix/client/v3/delete_devices', { token, body: { devices: [String(reg.json.device_id)], auth: passwordAuth('shape', del.json.session) } }));

  const refreshed = await h.call('POST', '/_matrix/client/v3/refresh', { body: { refresh_token: String(login.json.refresh_token) } });
  assertShape('refresh.yaml', '/refresh', 'post', refreshed);
  assertShape('refresh.yaml', '/refresh', 'post', await h.call('POST', '/_matrix/client/v3/refresh', { body: { refresh_token: 'nope' } }));

  const uid = encodeURIComponent(String(reg.json.user_id));
  assertShape('profile.yaml', '/profile/{userId}', 'get', await h.call('GET', `/_matrix/client/v3/profile/${uid}`));
  assertShape('profile.yaml', '/profile/{userId}', 'get', await h.call('GET', '/_matrix/client/v3/profile/%40ghost%3Atest.local'));
  assertShape('profile.yaml', '/profile/{userId}/{keyName}', 'get', await h.call('GET', `/_matrix/client/v3/profile/${uid}/displayname`));
  assertShape('profile.yaml', '/profile/{userId}/{keyName}', 'put', await h.call('PUT', `/_matrix/client/v3/profile/${uid}/displayname`, { token, body: { displayname: 'S' } }));

  const extra = await h.call('POST', '/_matrix/client/v3/login', { body: { type: 'm.login.password', user: 'shape', password: 'correct horse' } });
  const out = await h.call('POST', '/_matrix/client/v3/logout', { token: String(extra.json.access_token) });
  assert.equal(out.status, 200);
  assertShape('logout.yaml', '/logout', 'post', out);

  const newToken = String(refreshed.json.access_token);
  const pw = await h.call('POST', '/_matrix/client/v3/account/password', { token: newToken, body: { new_password: 'new horse' } });
  assertShape('password_management.yaml', '/account/password', 'post', pw);
  assertShape('password_management.yaml', '/account/password', 'post', await h.call('POST', '/_matrix/client/v3/account/password', { token: newToken, body: { new_password: 'new horse', auth: passwordAuth('shape', pw.json.session) } }));
  const de = await h.call('POST', '/_matrix/client/v3/account/deactivate', { token: newToken, body: {} });
  assertShape('account_deactivation.yaml', '/account/deactivate', 'post', de);
  assertShape('account_deactivation.yaml', '/account/deactivate', 'post', await h.call('POST', '/_matrix/client/v3/account/deactivate', { token: newToken, body: { auth: passwordAuth('shape', de.json.session, 'new horse') } }));
});

test('the shape check can fail', { skip: !haveSpec && 'spec data absent' }, () => {
  assert.throws(() => assertShape('whoami.yaml', '/account/whoami', 'get', { status: 200, json: { device_id: 'X' } }));
  assert.throws(() => assertShape('device_management.yaml', '/devices', 'get', { status: 200, json: { devices: [{ display_name: 'no id' }] } }));
});
