import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { shouldReplaceRoomKey, type KeyBackupData } from '../src/index.ts';
import { SERVER, startHarness, V3, type Harness } from './support.ts';

let h: Harness;
test.before(async () => {
  h = await startHarness();
});
test.after(() => h.close());

const ALG = 'm.megolm_backup.v1.curve25519-aes-sha2';
const room = '!room:test.local';
const enc = encodeURIComponent;

function key(first: number, forwarded: number, verified: boolean, tag: string): KeyBackupData {
  return { first_message_index: first, forwarded_count: forwarded, is_verified: verified, session_data: { ciphertext: tag, ephemeral: 'e', mac: 'm' } };
}

test('the replacement rule: verified beats unverified, then lower first_message_index, then lower forwarded_count', () => {
  assert.equal(shouldReplaceRoomKey(key(5, 5, false, 'a'), key(9, 9, true, 'b')), true);
  assert.equal(shouldReplaceRoomKey(key(0, 0, true, 'a'), key(0, 0, false, 'b')), false);
  assert.equal(shouldReplaceRoomKey(key(5, 0, true, 'a'), key(3, 9, true, 'b')), true);
  assert.equal(shouldReplaceRoomKey(key(3, 0, false, 'a'), key(5, 0, false, 'b')), false);
  assert.equal(shouldReplaceRoomKey(key(3, 2, false, 'a'), key(3, 1, false, 'b')), true);
  assert.equal(shouldReplaceRoomKey(key(3, 1, false, 'a'), key(3, 1, false, 'b')), false);
});

test('backup version lifecycle: create, current, update, delete, and 404s', async () => {
  const u = h.device(`@bk1:${SERVER}`, 'BK1');
  const none = await h.call('GET', `${V3}/room_keys/version`, { token: u.token });
  assert.equal(none.status, 404);
  assert.equal(none.json.errcode, 'M_NOT_FOUND');

  const v1 = await h.call('POST', `${V3}/room_keys/version`, { token: u.token, body: { algorithm: ALG, auth_data: { public_key: 'pk1' } } });
  assert.equal(v1.status, 200);
  assert.equal(typeof v1.json.version, 'string');
  const v2 = await h.call('POST', `${V3}/room_keys/version`, { token: u.token, body: { algorithm: ALG, auth_data: { public_key: 'pk2' } } });
  assert.notEqual(v2.json.version, v1.json.version);

  const cur = await h.call('GET', `${V3}/room_keys/version`, { token: u.token });
  assert.deepEqual(cur.json, { algorithm: ALG, auth_data: { public_key: 'pk2' }, count: 0, etag: '0', version: v2.json.version });
  const old = await h.call('GET', `${V3}/room_keys/version/${v1.json.version}`, { token: u.token });
  assert.equal(old.json.auth_data.public_key, 'pk1');

  const upd = await h.call('PUT', `${V3}/room_keys/version/${v2.json.version}`, {
    token: u.token,
    body: { algorithm: ALG, auth_data: { public_key: 'pk2', signatures: {} }, version: v2.json.version },
  });
  assert.equal(upd.status, 200);
  assert.deepEqual(upd.json, {});
  assert.deepEqual((await h.call('GET', `${V3}/room_keys/version`, { token: u.token })).json.auth_data, { public_key: 'pk2', signatures: {} });
  const wrongAlg = await h.call('PUT', `${V3}/room_keys/version/${v2.json.version}`, { token: u.token, body: { algorithm: 'other', auth_data: {} } });
  assert.equal(wrongAlg.status, 400);
  assert.equal(wrongAlg.json.errcode, 'M_INVALID_PARAM');
  const wrongVersion = await h.call('PUT', `${V3}/room_keys/version/${v2.json.version}`, { token: u.token, body: { algorithm: ALG, auth_data: {}, version: '999' } });
  assert.equal(wrongVersion.status, 400);
  assert.equal((await h.call('PUT', `${V3}/room_keys/version/999`, { token: u.token, body: { algorithm: ALG, auth_data: {} } })).status, 404);

  // Deleting the current version makes the previous one current; deleting twice is fine; unknown is 404.
  assert.equal((await h.call('DELETE', `${V3}/room_keys/version/${v2.json.version}`, { token: u.token })).status, 200);
  assert.equal((await h.call('DELETE', `${V3}/room_keys/version/${v2.json.version}`, { token: u.token })).status, 200);
  assert.equal((await h.call('GET', `${V3}/room_keys/version/${v2.json.version}`, { token: u.token })).status, 404);
  assert.equal((await h.call('GET', `${V3}/room_keys/version`, { token: u.token })).json.version, v1.json.version);
  assert.equal((await h.call('DELETE', `${V3}/room_keys/version/12345`, { token: u.token })).status, 404);
  assert.equal((await h.call('DELETE', `${V3}/room_keys/version/not-a-number`, { token: u.token })).status, 404);
  // A new version never reuses a deleted version's number.
  const v3 = await h.call('POST', `${V3}/room_keys/version`, { token: u.token, body: { algorithm: ALG, auth_data: {} } });
  assert.ok(Number(v3.json.version) > Number(v2.json.version));

  // Another user sees none of this.
  const other = h.device(`@bk1other:${SERVER}`, 'O');
  assert.equal((await h.call('GET', `${V3}/room_keys/version/${v1.json.version}`, { token: other.token })).status, 404);
});

test('storing keys: replacement rules, etag moves only on change, count, and the three GET/DELETE scopes', async () => {
  const u = h.device(`@bk2:${SERVER}`, 'BK2');
  const { version } = (await h.call('POST', `${V3}/room_keys/version`, { token: u.token, body: { algorithm: ALG, auth_data: {} } })).json;
  const put = (path: string, body: unknown) => h.call('PUT', `${V3}/room_keys/keys${path}?version=${version}`, { token: u.token, body });
  const getSession = async (s: string) => (await h.call('GET', `${V3}/room_keys/keys/${enc(room)}/${s}?version=${version}`, { token: u.token })).json;

  const r1 = await put(`/${enc(room)}/s1`, key(5, 1, false, 'first'));
  assert.deepEqual(r1.json, { etag: '1', count: 1 });
  // Worse (higher index) unverified key: kept as is, etag unchanged.
  assert.deepEqual((await put(`/${enc(room)}/s1`, key(7, 0, false, 'worse'))).json, { etag: '1', count: 1 });
  assert.equal((await getSession('s1')).session_data.ciphertext, 'first');
  // Lower first_message_index wins.
  assert.deepEqual((await put(`/${enc(room)}/s1`, key(2, 3, false, 'lower-index'))).json, { etag: '2', count: 1 });
  // Same index, lower forwarded_count wins.
  await put(`/${enc(room)}/s1`, key(2, 1, false, 'fewer-forwards'));
  assert.equal((await getSession('s1')).session_data.ciphertext, 'fewer-forwards');
  // Verified beats everything unverified, even with a worse index…
  await put(`/${enc(room)}/s1`, key(9, 9, true, 'verified'));
  assert.deepEqual(await getSession('s1'), key(9, 9, true, 'verified'));
  // …and an unverified key never replaces a verified one.
  await put(`/${enc(room)}/s1`, key(0, 0, false, 'unverified'));
  assert.equal((await getSession('s1')).session_data.ciphertext, 'verified');

  // Room and bulk forms.
  const room2 = '!other:test.local';
  const byRoom = await put(`/${enc(room)}`, { sessions: { s2: key(0, 0, false, 's2'), s3: key(0, 0, false, 's3') } });
  assert.equal(byRoom.json.count, 3);
  const bulk = await put('', { rooms: { [room2]: { sessions: { t1: key(0, 0, true, 't1') } } } });
  assert.equal(bulk.json.count, 4);
  const etag = bulk.json.etag;
  const info = await h.call('GET', `${V3}/room_keys/version/${version}`, { token: u.token });
  assert.equal(info.json.count, 4);
  assert.equal(info.json.etag, etag);

  const all = await h.call('GET', `${V3}/room_keys/keys?version=${version}`, { token: u.token });
  assert.deepEqual(Object.keys(all.json.rooms).sort(), [room2, room].sort());
  assert.deepEqual(Object.keys(all.json.rooms[room].sessions).sort(), ['s1', 's2', 's3']);
  const emptyRoom = await h.call('GET', `${V3}/room_keys/keys/${enc('!empty:x')}?version=${version}`, { token: u.token });
  assert.deepEqual(emptyRoom.json, { sessions: {} });
  const missing = await h.call('GET', `${V3}/room_keys/keys/${enc(room)}/nope?version=${version}`, { token: u.token });
  assert.equal(missing.status, 404);

  const delSession = await h.call('DELETE', `${V3}/room_keys/keys/${enc(room)}/s2?version=${version}`, { token: u.token });
  assert.deepEqual(delSession.json, { etag: String(Number(etag) + 1), count: 3 });
  const delRoom = await h.call('DELETE', `${V3}/room_keys/keys/${enc(room)}?version=${version}`, { token: u.token });
  assert.equal(delRoom.json.count, 1);
  const delAll = await h.call('DELETE', `${V3}/room_keys/keys?version=${version}`, { token: u.token });
  assert.equal(delAll.json.count, 0);
  assert.deepEqual((await h.call('GET', `${V3}/room_keys/keys?version=${version}`, { token: u.token })).json, { rooms: {} });
});

test('writing to a stale backup version is 403 M_WRONG_ROOM_KEYS_VERSION with the current version', async () => {
  const u = h.device(`@bk3:${SERVER}`, 'BK3');
  const put = (version: string) => h.call('PUT', `${V3}/room_keys/keys/${enc(room)}/s?version=${version}`, { token: u.token, body: key(0, 0, false, 'x') });
  assert.equal((await put('1')).status, 404, 'no backup at all');
  const { version: v1 } = (await h.call('POST', `${V3}/room_keys/version`, { token: u.token, body: { algorithm: ALG, auth_data: {} } })).json;
  const { version: v2 } = (await h.call('POST', `${V3}/room_keys/version`, { token: u.token, body: { algorithm: ALG, auth_data: {} } })).json;
  const stale = await put(v1);
  assert.equal(stale.status, 403);
  assert.equal(stale.json.errcode, 'M_WRONG_ROOM_KEYS_VERSION');
  assert.equal(stale.json.current_version, v2);
  assert.equal((await put('777')).status, 404);
  assert.equal((await put(v2)).status, 200);
  // Reading an old (still existing) version is allowed.
  assert.equal((await h.call('GET', `${V3}/room_keys/keys?version=${v1}`, { token: u.token })).status, 200);
});

test('key backup input errors are 4xx; guests are refused', async () => {
  const u = h.device(`@bk4:${SERVER}`, 'BK4');
  const { version } = (await h.call('POST', `${V3}/room_keys/version`, { token: u.token, body: { algorithm: ALG, auth_data: {} } })).json;
  const cases: [string, string, unknown][] = [
    ['POST', '/room_keys/version', {}],
    ['POST', '/room_keys/version', { algorithm: ALG }],
    ['POST', '/room_keys/version', { algorithm: 5, auth_data: {} }],
    ['POST', '/room_keys/version', { algorithm: ALG, auth_data: 'x' }],
    ['PUT', `/room_keys/keys/${enc(room)}/s?version=${version}`, { first_message_index: 0 }],
    ['PUT', `/room_keys/keys/${enc(room)}/s?version=${version}`, { ...key(0, 0, false, 'x'), is_verified: 'yes' }],
    ['PUT', `/room_keys/keys/${enc(room)}/s?version=${version}`, { ...key(0, 0, false, 'x'), first_message_index: -1 }],
    ['PUT', `/room_keys/keys/${enc(room)}/s?version=${version}`, { ...key(0, 0, false, 'x'), forwarded_count: 1.5 }],
    ['PUT', `/room_keys/keys/${enc(room)}/s?version=${version}`, { ...key(0, 0, false, 'x'), first_message_index: 1e300 }],
    ['PUT', `/room_keys/keys/${enc(room)}?version=${version}`, { sessions: { s: 'x' } }],
    ['PUT', `/room_keys/keys?version=${version}`, { rooms: { [room]: {} } }],
    ['PUT', `/room_keys/keys/${enc(room)}/s`, key(0, 0, false, 'x')],
    ['GET', `/room_keys/keys`, undefined],
    ['PUT', `/room_keys/keys/${enc('a\u0000b')}/s?version=${version}`, key(0, 0, false, 'x')],
    ['PUT', `/room_keys/keys/${enc(room)}/${randomBytes(1500).toString('hex')}?version=${version}`, key(0, 0, false, 'x')],
  ];
  for (const [method, path, body] of cases) {
    const r = await h.call(method, `${V3}${path}`, { token: u.token, body });
    assert.ok(r.status >= 400 && r.status < 500, `${method} ${path} ${JSON.stringify(body)} → ${r.status}`);
  }
  const guest = h.device(`@bkg:${SERVER}`, 'G', { guest: true });
  const g = await h.call('POST', `${V3}/room_keys/version`, { token: guest.token, body: { algorithm: ALG, auth_data: {} } });
  assert.equal(g.status, 403);
  assert.equal(g.json.errcode, 'M_GUEST_ACCESS_FORBIDDEN');
});

test('concurrent version creation and uploads stay consistent', async () => {
  const u = h.device(`@bk5:${SERVER}`, 'BK5');
  const created = await Promise.all(
    Array.from({ length: 5 }, () => h.call('POST', `${V3}/room_keys/version`, { token: u.token, body: { algorithm: ALG, auth_data: {} } })),
  );
  const versions = created.map((c) => c.json.version);
  assert.equal(new Set(versions).size, 5);
  const current = String(Math.max(...versions.map(Number)));
  const puts = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      h.call('PUT', `${V3}/room_keys/keys/${enc(room)}/c${i}?version=${current}`, { token: u.token, body: key(0, 0, false, `c${i}`) }),
    ),
  );
  assert.ok(puts.every((p) => p.status === 200));
  const info = await h.call('GET', `${V3}/room_keys/version`, { token: u.token });
  assert.equal(info.json.count, 10);
  assert.equal(info.json.etag, '10');
});
