/**
 * Response shapes checked against the spec's OpenAPI (from /work/shared, which products never read).
 * Skips loudly when the spec data is not on this machine.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { assertResponseShape, responseValidator, specPresent } from '../../../e2e/support/openapi.ts';
import { oneTimeKey, SERVER, startHarness, V3, type Harness } from './support.ts';

const present = specPresent('e2ee OpenAPI response-shape checks');

let h: Harness;
test.before(async () => {
  if (present) h = await startHarness();
});
test.after(async () => {
  if (present) await h.close();
});

test('keys/upload, keys/query, keys/claim, keys/changes, signatures/upload responses match the spec', { skip: !present }, async () => {
  const alice = h.device(`@oa:${SERVER}`, 'OA1');
  const bob = h.device(`@ob:${SERVER}`, 'OB1');
  const up = await h.call('POST', `${V3}/keys/upload`, {
    token: alice.token,
    body: { device_keys: alice.deviceKeys, one_time_keys: { 'signed_curve25519:a': oneTimeKey(alice) }, fallback_keys: { 'signed_curve25519:f': oneTimeKey(alice, true) } },
  });
  assert.equal(up.status, 200);
  assertResponseShape('keys.yaml', '/keys/upload', 'post', 200, up.json, 'keys/upload');
  // The checker itself can fail: a wrong shape is rejected.
  assert.equal(responseValidator('keys.yaml', '/keys/upload', 'post')({ one_time_key_counts: { signed_curve25519: 'x' } }), false);

  const q = await h.call('POST', `${V3}/keys/query`, { token: bob.token, body: { device_keys: { [alice.userId]: [], '@r:remote.example': [] } } });
  assert.equal(Object.keys(q.json.device_keys[alice.userId]).length, 1);
  assertResponseShape('keys.yaml', '/keys/query', 'post', 200, q.json, 'keys/query');
  const mangled = structuredClone(q.json);
  delete mangled.device_keys[alice.userId].OA1.keys;
  assert.equal(responseValidator('keys.yaml', '/keys/query', 'post')(mangled), false);

  for (let i = 0; i < 2; i++) {
    const c = await h.call('POST', `${V3}/keys/claim`, { token: bob.token, body: { one_time_keys: { [alice.userId]: { OA1: 'signed_curve25519' } } } });
    assert.equal(Object.keys(c.json.one_time_keys[alice.userId].OA1).length, 1);
    assertResponseShape('keys.yaml', '/keys/claim', 'post', 200, c.json, `keys/claim #${i}`);
  }

  const ch = await h.call('GET', `${V3}/keys/changes?from=s0&to=s0`, { token: bob.token });
  assertResponseShape('keys.yaml', '/keys/changes', 'get', 200, ch.json, 'keys/changes');

  const sig = await h.call('POST', `${V3}/keys/signatures/upload`, { token: bob.token, body: { [alice.userId]: { OA1: alice.deviceKeys } } });
  assert.ok(Object.keys(sig.json.failures).length > 0);
  assertResponseShape('cross_signing.yaml', '/keys/signatures/upload', 'post', 200, sig.json, 'signatures/upload');
});

test('room_keys responses match the spec', { skip: !present }, async () => {
  const u = h.device(`@ok:${SERVER}`, 'OK1');
  const created = await h.call('POST', `${V3}/room_keys/version`, { token: u.token, body: { algorithm: 'm.megolm_backup.v1.curve25519-aes-sha2', auth_data: { public_key: 'x' } } });
  assertResponseShape('key_backup.yaml', '/room_keys/version', 'post', 200, created.json, 'create version');
  const version = created.json.version as string;
  const data = { first_message_index: 0, forwarded_count: 0, is_verified: false, session_data: { ciphertext: 'c' } };
  const put = await h.call('PUT', `${V3}/room_keys/keys/${encodeURIComponent('!r:x')}/s1?version=${version}`, { token: u.token, body: data });
  assertResponseShape('key_backup.yaml', '/room_keys/keys/{roomId}/{sessionId}', 'put', 200, put.json, 'put session');
  const cur = await h.call('GET', `${V3}/room_keys/version`, { token: u.token });
  assertResponseShape('key_backup.yaml', '/room_keys/version', 'get', 200, cur.json, 'current version');
  const all = await h.call('GET', `${V3}/room_keys/keys?version=${version}`, { token: u.token });
  assertResponseShape('key_backup.yaml', '/room_keys/keys', 'get', 200, all.json, 'get all');
  const sess = await h.call('GET', `${V3}/room_keys/keys/${encodeURIComponent('!r:x')}/s1?version=${version}`, { token: u.token });
  assertResponseShape('key_backup.yaml', '/room_keys/keys/{roomId}/{sessionId}', 'get', 200, sess.json, 'get session');
  const stale = await h.call('POST', `${V3}/room_keys/version`, { token: u.token, body: { algorithm: 'm.megolm_backup.v1.curve25519-aes-sha2', auth_data: {} } });
  assert.equal(stale.status, 200);
  const wrong = await h.call('PUT', `${V3}/room_keys/keys/${encodeURIComponent('!r:x')}/s1?version=${version}`, { token: u.token, body: data });
  assert.equal(wrong.status, 403);
  assertResponseShape('key_backup.yaml', '/room_keys/keys/{roomId}/{sessionId}', 'put', '403', wrong.json, 'wrong version');
});
