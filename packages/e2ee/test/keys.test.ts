import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { emptySyncToken, encodeSyncToken, positionOf, type SyncToken } from '@hs/core';
import { createE2eeReaders } from '../src/index.ts';
import { deviceKeysFor, newKeyPair, oneTimeKey, SERVER, sign, startHarness, V3, type Harness } from './support.ts';

let h: Harness;
test.before(async () => {
  h = await startHarness();
});
test.after(() => h.close());

const alice = `@alice:${SERVER}`;
const bob = `@bob:${SERVER}`;

test('keys/upload stores signed device keys and one-time keys; keys/query returns them with display names', async () => {
  const dev = h.device(alice, 'ALICE1', { displayName: "Alice's phone" });
  const otks = { 'signed_curve25519:AAAA': oneTimeKey(dev), 'signed_curve25519:AAAB': oneTimeKey(dev) };
  const up = await h.call('POST', `${V3}/keys/upload`, { token: dev.token, body: { device_keys: dev.deviceKeys, one_time_keys: otks } });
  assert.equal(up.status, 200, JSON.stringify(up.json));
  assert.deepEqual(up.json, { one_time_key_counts: { signed_curve25519: 2 } });

  const reader = h.device(bob, 'BOB1');
  const q = await h.call('POST', `${V3}/keys/query`, { token: reader.token, body: { device_keys: { [alice]: [] } } });
  assert.equal(q.status, 200);
  const got = q.json.device_keys[alice].ALICE1;
  assert.deepEqual(got.keys, dev.deviceKeys.keys);
  assert.deepEqual(got.signatures, dev.deviceKeys.signatures);
  assert.deepEqual(got.unsigned, { device_display_name: "Alice's phone" });
  assert.deepEqual(q.json.failures, {});

  // Asking for a specific unknown device leaves it out; the user is still listed.
  const q2 = await h.call('POST', `${V3}/keys/query`, { token: reader.token, body: { device_keys: { [alice]: ['NOPE'] } } });
  assert.deepEqual(q2.json.device_keys, { [alice]: {} });

  // The upload was a device-list change for Alice on the device_lists stream.
  const change = h.notifications.find((n) => n.stream === 'device_lists' && n.users?.includes(alice));
  assert.ok(change);
  const rows = await h.db.sql`SELECT user_id, device_id FROM device_lists_stream WHERE stream_id = ${change.position}`;
  assert.deepEqual([...rows], [{ user_id: alice, device_id: 'ALICE1' }]);

  // Re-uploading identical keys changes nothing, so no new device-list row.
  const before = (await h.db.sql`SELECT count(*)::int AS n FROM device_lists_stream`)[0]?.n;
  await h.call('POST', `${V3}/keys/upload`, { token: dev.token, body: { device_keys: dev.deviceKeys } });
  assert.equal((await h.db.sql`SELECT count(*)::int AS n FROM device_lists_stream`)[0]?.n, before);
});

test('keys/query: deleted devices disappear, remote users land in failures, malformed user IDs are 400', async () => {
  const dev = h.device(alice, 'GONE');
  await h.call('POST', `${V3}/keys/upload`, { token: dev.token, body: { device_keys: dev.deviceKeys } });
  const reader = h.device(bob, 'BOB2');
  h.removeDevice(alice, 'GONE');
  const q = await h.call('POST', `${V3}/keys/query`, {
    token: reader.token,
    body: { device_keys: { [alice]: ['GONE'], '@carol:remote.example': [] }, timeout: 1000 },
  });
  assert.equal(q.status, 200);
  assert.deepEqual(q.json.device_keys[alice], {});
  assert.equal(q.json.device_keys['@carol:remote.example'], undefined);
  assert.ok(q.json.failures['remote.example']);
  const bad = await h.call('POST', `${V3}/keys/query`, { token: reader.token, body: { device_keys: { 'not-a-user': [] } } });
  assert.equal(bad.status, 400);
});

test('keys/upload rejects device keys that are badly signed or belong to someone else', async () => {
  const dev = h.device(alice, 'BADSIG');
  const other = newKeyPair();
  const cases: [string, unknown, string][] = [
    ['signed by another key', sign({ ...dev.deviceKeys, signatures: {} }, alice, 'ed25519:BADSIG', other), 'M_INVALID_SIGNATURE'],
    ['tampered after signing', { ...dev.deviceKeys, algorithms: ['m.evil'] }, 'M_INVALID_SIGNATURE'],
    ['unsigned', { ...dev.deviceKeys, signatures: {} }, 'M_INVALID_SIGNATURE'],
    ['wrong user', deviceKeysFor(bob, 'BADSIG', other), 'M_BAD_JSON'],
    ['wrong device', deviceKeysFor(alice, 'OTHER', other), 'M_BAD_JSON'],
    ['no ed25519 key', sign({ user_id: alice, device_id: 'BADSIG', algorithms: [], keys: {} }, alice, 'ed25519:BADSIG', dev.ed25519), 'M_INVALID_PARAM'],
    ['float in content', { ...dev.deviceKeys, extra: 1.5 }, 'M_BAD_JSON'],
  ];
  // The device's genuine keys would be accepted; the variants must not be.
  for (const [what, keys, errcode] of cases) {
    const r = await h.call('POST', `${V3}/keys/upload`, { token: dev.token, body: { device_keys: keys } });
    assert.equal(r.status, 400, what);
    assert.equal(r.json.errcode, errcode, what);
  }
  const ok = await h.call('POST', `${V3}/keys/upload`, { token: dev.token, body: { device_keys: dev.deviceKeys } });
  assert.equal(ok.status, 200);
});

test('keys/upload: a one-time key ID re-uploaded with other content is a 400; identical (even re-signed) is fine', async () => {
  const dev = h.device(alice, 'DUPS');
  const k = oneTimeKey(dev);
  assert.equal((await h.call('POST', `${V3}/keys/upload`, { token: dev.token, body: { one_time_keys: { 'signed_curve25519:K1': k } } })).status, 200);
  const resigned = sign({ key: k.key as string }, alice, 'ed25519:DUPS', newKeyPair());
  const same = await h.call('POST', `${V3}/keys/upload`, { token: dev.token, body: { one_time_keys: { 'signed_curve25519:K1': resigned } } });
  assert.equal(same.status, 200);
  assert.deepEqual(same.json.one_time_key_counts, { signed_curve25519: 1 });
  const clash = await h.call('POST', `${V3}/keys/upload`, { token: dev.token, body: { one_time_keys: { 'signed_curve25519:K1': oneTimeKey(dev) } } });
  assert.equal(clash.status, 400);
  const badId = await h.call('POST', `${V3}/keys/upload`, { token: dev.token, body: { one_time_keys: { 'no-colon': 'x' } } });
  assert.equal(badId.status, 400);
  assert.equal(badId.json.errcode, 'M_BAD_JSON');
  const twoColons = await h.call('POST', `${V3}/keys/upload`, { token: dev.token, body: { one_time_keys: { 'a:b:c': 'x' } } });
  assert.equal(twoColons.status, 400);
});

test('keys/claim hands out one-time keys oldest first, each once, then the fallback key (marked used)', async () => {
  const dev = h.device(alice, 'CLAIM');
  const claimer = h.device(bob, 'CLAIMER');
  const first = oneTimeKey(dev);
  await h.call('POST', `${V3}/keys/upload`, { token: dev.token, body: { device_keys: dev.deviceKeys, one_time_keys: { 'signed_curve25519:first': first } } });
  const second = oneTimeKey(dev);
  const fb = oneTimeKey(dev, true);
  await h.call('POST', `${V3}/keys/upload`, {
    token: dev.token,
    body: { one_time_keys: { 'signed_curve25519:second': second }, fallback_keys: { 'signed_curve25519:fb1': fb } },
  });
  const readers = createE2eeReaders(h.db.sql);
  assert.deepEqual((await readers.getDeviceKeyCounts(alice, 'CLAIM')).unusedFallbackKeyTypes, ['signed_curve25519']);

  const body = { one_time_keys: { [alice]: { CLAIM: 'signed_curve25519' } } };
  const c1 = await h.call('POST', `${V3}/keys/claim`, { token: claimer.token, body });
  assert.equal(c1.status, 200);
  assert.deepEqual(c1.json, { one_time_keys: { [alice]: { CLAIM: { 'signed_curve25519:first': first } } }, failures: {} });
  const c2 = await h.call('POST', `${V3}/keys/claim`, { token: claimer.token, body });
  assert.deepEqual(c2.json.one_time_keys[alice].CLAIM, { 'signed_curve25519:second': second });
  assert.deepEqual((await readers.getDeviceKeyCounts(alice, 'CLAIM')).oneTimeKeys, { signed_curve25519: 0 });
  assert.deepEqual((await readers.getDeviceKeyCounts(alice, 'CLAIM')).unusedFallbackKeyTypes, ['signed_curve25519']);

  // Out of one-time keys: the fallback key, again and again, now reported as used.
  for (let i = 0; i < 2; i++) {
    const c = await h.call('POST', `${V3}/keys/claim`, { token: claimer.token, body });
    assert.deepEqual(c.json.one_time_keys[alice].CLAIM, { 'signed_curve25519:fb1': fb });
  }
  assert.deepEqual((await readers.getDeviceKeyCounts(alice, 'CLAIM')).unusedFallbackKeyTypes, []);

  // Re-uploading the same fallback key keeps it used; a new one is unused again.
  await h.call('POST', `${V3}/keys/upload`, { token: dev.token, body: { fallback_keys: { 'signed_curve25519:fb1': fb } } });
  assert.deepEqual((await readers.getDeviceKeyCounts(alice, 'CLAIM')).unusedFallbackKeyTypes, []);
  await h.call('POST', `${V3}/keys/upload`, { token: dev.token, body: { fallback_keys: { 'signed_curve25519:fb2': oneTimeKey(dev, true) } } });
  assert.deepEqual((await readers.getDeviceKeyCounts(alice, 'CLAIM')).unusedFallbackKeyTypes, ['signed_curve25519']);

  // Two fallback keys of one algorithm in one upload are refused.
  const two = await h.call('POST', `${V3}/keys/upload`, {
    token: dev.token,
    body: { fallback_keys: { 'signed_curve25519:x': oneTimeKey(dev, true), 'signed_curve25519:y': oneTimeKey(dev, true) } },
  });
  assert.equal(two.status, 400);

  // Unknown devices and remote users: nothing, and a failure entry for the remote server.
  const c3 = await h.call('POST', `${V3}/keys/claim`, {
    token: claimer.token,
    body: { one_time_keys: { [alice]: { NOPE: 'signed_curve25519' }, '@x:elsewhere.example': { D: 'signed_curve25519' } } },
  });
  assert.deepEqual(c3.json.one_time_keys, {});
  assert.ok(c3.json.failures['elsewhere.example']);
});

test('keys/claim under concurrency: 20 claimers for 10 keys get 10 distinct keys, never one twice', async () => {
  const dev = h.device(alice, 'RACE');
  const uploaded: Record<string, unknown> = {};
  for (let i = 0; i < 10; i++) uploaded[`signed_curve25519:k${i}`] = oneTimeKey(dev);
  await h.call('POST', `${V3}/keys/upload`, { token: dev.token, body: { one_time_keys: uploaded } });
  const claimer = h.device(bob, 'RACER');
  const results = await Promise.all(
    Array.from({ length: 20 }, () =>
      h.call('POST', `${V3}/keys/claim`, { token: claimer.token, body: { one_time_keys: { [alice]: { RACE: 'signed_curve25519' } } } }),
    ),
  );
  const got = results.flatMap((r) => Object.keys(r.json.one_time_keys[alice]?.RACE ?? {}));
  assert.equal(got.length, 10);
  assert.equal(new Set(got).size, 10);
  assert.deepEqual(new Set(got), new Set(Object.keys(uploaded)));
});

test('malformed keys bodies are 4xx, never 5xx', async () => {
  const dev = h.device(alice, 'MALFORMED');
  const cases: [string, unknown][] = [
    ['/keys/upload', { device_keys: 'x' }],
    ['/keys/upload', { device_keys: null }],
    ['/keys/upload', { device_keys: { user_id: alice } }],
    ['/keys/upload', { one_time_keys: { 'signed_curve25519:A': { key: 1 } } }],
    ['/keys/upload', { one_time_keys: [] }],
    ['/keys/upload', { fallback_keys: { 'signed_curve25519:A': 5 } }],
    ['/keys/query', {}],
    ['/keys/query', { device_keys: { [alice]: 'ALL' } }],
    ['/keys/query', { device_keys: { [alice]: [1] } }],
    ['/keys/claim', {}],
    ['/keys/claim', { one_time_keys: { [alice]: { D: 5 } } }],
    ['/keys/claim', { one_time_keys: { 'bad user': { D: 'signed_curve25519' } } }],
    ['/keys/signatures/upload', { [alice]: { X: 'notobject' } }],
    ['/keys/signatures/upload', { [alice]: [] }],
    ['/keys/device_signing/upload', { master_key: { user_id: alice } }],
    ['/keys/device_signing/upload', { master_key: { user_id: alice, usage: ['master'], keys: {} } }],
    ['/keys/upload', { one_time_keys: { [`signed_curve25519:${randomBytes(1500).toString('hex')}`]: 'x' } }],
    ['/keys/upload', { one_time_keys: { 'signed_curve25519:a\u0000b': 'x' } }],
    ['/keys/claim', { one_time_keys: { [alice]: { [randomBytes(1500).toString('hex')]: 'signed_curve25519' } } }],
  ];
  for (const [path, body] of cases) {
    const r = await h.call('POST', `${V3}${path}`, { token: dev.token, body });
    assert.ok(r.status >= 400 && r.status < 500, `${path} ${JSON.stringify(body)} → ${r.status}`);
    assert.equal(typeof r.json.errcode, 'string');
  }
  const notJson = await h.call('POST', `${V3}/keys/upload`, { token: dev.token, raw: '{nope' });
  assert.equal(notJson.status, 400);
  assert.equal(notJson.json.errcode, 'M_NOT_JSON');
  const noAuth = await h.call('POST', `${V3}/keys/query`, { body: { device_keys: {} } });
  assert.equal(noAuth.status, 401);
});

function tokenAt(deviceLists: number, events = 0): string {
  const t: SyncToken = { ...emptySyncToken(), device_lists: positionOf(deviceLists), events: positionOf(events) };
  return encodeSyncToken(t);
}

test('keys/changes lists users sharing a room whose devices changed between the tokens, plus joins, and left users', async () => {
  const me = h.device(`@me:${SERVER}`, 'ME');
  const friend = `@friend:${SERVER}`;
  const stranger = `@stranger:${SERVER}`;
  const newcomer = `@newcomer:${SERVER}`;
  const leaver = `@leaver:${SERVER}`;
  h.sharing.set(me.userId, [friend, newcomer]);
  const from = h.deviceListsWriter.position;
  await h.e2ee.markDevicesChanged(friend, ['F1']);
  await h.e2ee.markDevicesChanged(stranger, ['S1']);
  const mid = h.deviceListsWriter.position;
  await h.e2ee.markDevicesChanged(friend, ['F2']);
  h.sharingChanges = { joined: [newcomer], left: [leaver, friend] };

  const r = await h.call('GET', `${V3}/keys/changes?from=${tokenAt(from)}&to=${tokenAt(mid)}`, { token: me.token });
  assert.equal(r.status, 200);
  // friend still shares a room, so is not "left"; the stranger shares none.
  assert.deepEqual(r.json, { changed: [friend, newcomer], left: [leaver] });

  h.sharingChanges = { joined: [], left: [] };
  const none = await h.call('GET', `${V3}/keys/changes?from=${tokenAt(mid)}&to=${tokenAt(mid)}`, { token: me.token });
  assert.deepEqual(none.json, { changed: [], left: [] });
  const later = await h.call('GET', `${V3}/keys/changes?from=${tokenAt(mid)}&to=${tokenAt(h.deviceListsWriter.position)}`, { token: me.token });
  assert.deepEqual(later.json.changed, [friend]);

  const missing = await h.call('GET', `${V3}/keys/changes?from=${tokenAt(from)}`, { token: me.token });
  assert.equal(missing.status, 400);
  assert.equal(missing.json.errcode, 'M_MISSING_PARAM');
  const garbage = await h.call('GET', `${V3}/keys/changes?from=garbage&to=${tokenAt(mid)}`, { token: me.token });
  assert.equal(garbage.status, 400);
});

test('getDeviceListChanges reads the stream range, optionally narrowed to some users', async () => {
  const readers = createE2eeReaders(h.db.sql);
  const from = h.deviceListsWriter.position;
  await h.e2ee.markDevicesChanged('@u1:x', ['A', 'B']);
  await h.e2ee.markDevicesChanged('@u2:x', ['C']);
  const to = h.deviceListsWriter.position;
  assert.deepEqual(await readers.getDeviceListChanges(undefined, from, to), ['@u1:x', '@u2:x']);
  assert.deepEqual(await readers.getDeviceListChanges(['@u2:x', '@nobody:x'], from, to), ['@u2:x']);
  assert.deepEqual(await readers.getDeviceListChanges(undefined, to, to), []);
});

test('deleting devices drops their keys and is a device-list change', async () => {
  const dev = h.device(alice, 'DOOMED');
  await h.call('POST', `${V3}/keys/upload`, {
    token: dev.token,
    body: { device_keys: dev.deviceKeys, one_time_keys: { 'signed_curve25519:z': oneTimeKey(dev) } },
  });
  const before = h.deviceListsWriter.position;
  await h.e2ee.deleteDevices(alice, ['DOOMED']);
  assert.equal((await h.db.sql`SELECT count(*)::int AS n FROM e2e_device_keys WHERE device_id = 'DOOMED'`)[0]?.n, 0);
  assert.equal((await h.db.sql`SELECT count(*)::int AS n FROM e2e_one_time_keys WHERE device_id = 'DOOMED'`)[0]?.n, 0);
  assert.deepEqual(await createE2eeReaders(h.db.sql).getDeviceListChanges([alice], before, h.deviceListsWriter.position), [alice]);
});

test('keys/upload without a device on the access token is refused; an empty upload reports counts', async () => {
  const dev = h.device(alice, 'EMPTY');
  const empty = await h.call('POST', `${V3}/keys/upload`, { token: dev.token, body: {} });
  assert.equal(empty.status, 200);
  assert.deepEqual(empty.json, { one_time_key_counts: { signed_curve25519: 0 } });
  const noDevice = await h.call('POST', `${V3}/keys/upload`, { token: h.devicelessToken(alice), body: {} });
  assert.equal(noDevice.status, 400);
});
