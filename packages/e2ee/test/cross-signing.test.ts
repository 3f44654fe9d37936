import test from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '@hs/core';
import { createE2eeReaders } from '../src/index.ts';
import { crossSigningKey, newKeyPair, SERVER, sign, startHarness, V3, type Harness, type KeyPair, type TestDevice } from './support.ts';

let h: Harness;
test.before(async () => {
  h = await startHarness();
});
test.after(() => h.close());

interface Identity {
  readonly master: KeyPair;
  readonly selfSigning: KeyPair;
  readonly userSigning: KeyPair;
  readonly body: { master_key: JsonObject; self_signing_key: JsonObject; user_signing_key: JsonObject };
}

function identity(userId: string): Identity {
  const master = newKeyPair();
  const selfSigning = newKeyPair();
  const userSigning = newKeyPair();
  return {
    master,
    selfSigning,
    userSigning,
    body: {
      master_key: crossSigningKey(userId, 'master', master),
      self_signing_key: crossSigningKey(userId, 'self_signing', selfSigning, master),
      user_signing_key: crossSigningKey(userId, 'user_signing', userSigning, master),
    },
  };
}

async function uploadDevice(dev: TestDevice): Promise<void> {
  const r = await h.call('POST', `${V3}/keys/upload`, { token: dev.token, body: { device_keys: dev.deviceKeys } });
  assert.equal(r.status, 200);
}

test('device_signing/upload: first upload needs no UIA, identical re-upload is a no-op, replacing needs UIA', async () => {
  const user = `@cs1:${SERVER}`;
  const dev = h.device(user, 'CS1');
  const id = identity(user);
  h.uia.calls = 0;
  const first = await h.call('POST', `${V3}/keys/device_signing/upload`, { token: dev.token, body: id.body });
  assert.equal(first.status, 200, JSON.stringify(first.json));
  assert.deepEqual(first.json, {});
  assert.equal(h.uia.calls, 0);

  // A lost response retried: same keys, no UIA prompt.
  const again = await h.call('POST', `${V3}/keys/device_signing/upload`, { token: dev.token, body: id.body });
  assert.equal(again.status, 200);
  assert.equal(h.uia.calls, 0);

  const next = identity(user);
  h.uia.pass = false;
  const denied = await h.call('POST', `${V3}/keys/device_signing/upload`, { token: dev.token, body: next.body });
  assert.equal(denied.status, 401);
  assert.ok(Array.isArray(denied.json.flows));
  assert.equal(h.uia.calls, 1);
  h.uia.pass = true;
  const replaced = await h.call('POST', `${V3}/keys/device_signing/upload`, { token: dev.token, body: next.body });
  assert.equal(replaced.status, 200);
  h.uia.pass = false;

  const q = await h.call('POST', `${V3}/keys/query`, { token: dev.token, body: { device_keys: { [user]: [] } } });
  assert.deepEqual(q.json.master_keys[user], next.body.master_key);
  assert.deepEqual(q.json.self_signing_keys[user], next.body.self_signing_key);
  assert.deepEqual(q.json.user_signing_keys[user], next.body.user_signing_key);
});

test('device_signing/upload validates keys and their master-key signatures', async () => {
  const user = `@cs2:${SERVER}`;
  const dev = h.device(user, 'CS2');
  const id = identity(user);
  const stranger = newKeyPair();
  const cases: [string, unknown, number, string][] = [
    ['self-signing without any master key', { self_signing_key: id.body.self_signing_key }, 400, 'M_MISSING_PARAM'],
    ['self-signing signed by another key', { master_key: id.body.master_key, self_signing_key: crossSigningKey(user, 'self_signing', newKeyPair(), stranger) }, 400, 'M_INVALID_SIGNATURE'],
    ['user-signing unsigned', { master_key: id.body.master_key, user_signing_key: crossSigningKey(user, 'user_signing', newKeyPair()) }, 400, 'M_INVALID_SIGNATURE'],
    ['master of someone else', { master_key: crossSigningKey(`@x:${SERVER}`, 'master', newKeyPair()) }, 400, 'M_INVALID_PARAM'],
    ['wrong usage', { master_key: crossSigningKey(user, 'self_signing', newKeyPair()) }, 400, 'M_INVALID_PARAM'],
    ['key name not matching key', { master_key: { user_id: user, usage: ['master'], keys: { 'ed25519:abc': id.master.publicKey } } }, 400, 'M_INVALID_PARAM'],
    ['not an ed25519 key', { master_key: { user_id: user, usage: ['master'], keys: { 'ed25519:abc': 'abc' } } }, 400, 'M_INVALID_PARAM'],
  ];
  for (const [what, body, status, errcode] of cases) {
    const r = await h.call('POST', `${V3}/keys/device_signing/upload`, { token: dev.token, body });
    assert.equal(r.status, status, what);
    assert.equal(r.json.errcode, errcode, what);
  }
  // A cross-signing key whose public key is one of the user's device IDs is refused.
  const clash = newKeyPair();
  h.device(user, clash.publicKey);
  const forbidden = await h.call('POST', `${V3}/keys/device_signing/upload`, {
    token: dev.token,
    body: { master_key: crossSigningKey(user, 'master', clash) },
  });
  assert.equal(forbidden.status, 403);
  // Guests may not upload cross-signing keys.
  const guest = h.device(`@guest:${SERVER}`, 'G', { guest: true });
  const g = await h.call('POST', `${V3}/keys/device_signing/upload`, { token: guest.token, body: identity(guest.userId).body });
  assert.equal(g.status, 403);
  assert.equal(g.json.errcode, 'M_GUEST_ACCESS_FORBIDDEN');
  // And the valid set is accepted.
  assert.equal((await h.call('POST', `${V3}/keys/device_signing/upload`, { token: dev.token, body: id.body })).status, 200);
});

test('signatures/upload: own devices by the self-signing key, own master by a device, others by the user-signing key', async () => {
  const alice = `@sa:${SERVER}`;
  const bob = `@sb:${SERVER}`;
  const carol = `@sc:${SERVER}`;
  const a1 = h.device(alice, 'A1');
  const b1 = h.device(bob, 'B1');
  const c1 = h.device(carol, 'C1');
  await uploadDevice(a1);
  await uploadDevice(b1);
  await uploadDevice(c1);
  const aId = identity(alice);
  const bId = identity(bob);
  const cId = identity(carol);
  for (const [dev, id] of [[a1, aId], [b1, bId], [c1, cId]] as const) {
    assert.equal((await h.call('POST', `${V3}/keys/device_signing/upload`, { token: dev.token, body: id.body })).status, 200);
  }
  const readers = createE2eeReaders(h.db.sql);
  const before = h.deviceListsWriter.position;

  const sskId = `ed25519:${aId.selfSigning.publicKey}`;
  const uskId = `ed25519:${aId.userSigning.publicKey}`;
  const signedDevice = sign(a1.deviceKeys, alice, sskId, aId.selfSigning);
  const masterByDevice = sign(aId.body.master_key, alice, 'ed25519:A1', a1.ed25519);
  const bobMasterSigned = sign(bId.body.master_key, alice, uskId, aId.userSigning);
  const up = await h.call('POST', `${V3}/keys/signatures/upload`, {
    token: a1.token,
    body: {
      [alice]: { A1: signedDevice, [aId.master.publicKey]: masterByDevice },
      [bob]: { [bId.master.publicKey]: bobMasterSigned },
    },
  });
  assert.equal(up.status, 200, JSON.stringify(up.json));
  assert.deepEqual(up.json, { failures: {} });

  // Alice sees her device signed by her SSK, her master signed by her device, Bob's master signed by her USK.
  const qa = await h.call('POST', `${V3}/keys/query`, { token: a1.token, body: { device_keys: { [alice]: [], [bob]: [] } } });
  assert.equal(qa.json.device_keys[alice].A1.signatures[alice][sskId], (signedDevice.signatures as any)[alice][sskId]);
  assert.equal(qa.json.master_keys[alice].signatures[alice]['ed25519:A1'], (masterByDevice.signatures as any)[alice]['ed25519:A1']);
  assert.equal(qa.json.master_keys[bob].signatures[alice][uskId], (bobMasterSigned.signatures as any)[alice][uskId]);
  assert.equal(qa.json.user_signing_keys[bob], undefined, "never someone else's user-signing key");
  assert.ok(qa.json.user_signing_keys[alice]);

  // Carol sees Alice's self-signatures but not Alice's user-signing signature of Bob.
  const qc = await h.call('POST', `${V3}/keys/query`, { token: c1.token, body: { device_keys: { [alice]: [], [bob]: [] } } });
  assert.ok(qc.json.device_keys[alice].A1.signatures[alice][sskId]);
  assert.ok(qc.json.master_keys[alice].signatures[alice]['ed25519:A1']);
  assert.equal(qc.json.master_keys[bob].signatures?.[alice], undefined);
  assert.deepEqual(qc.json.user_signing_keys, {});

  // Device-list changes: Alice's device and master for everyone, Bob as a signature change for Alice only.
  const to = h.deviceListsWriter.position;
  assert.deepEqual(await readers.getDeviceListChanges([alice], before, to), [alice]);
  assert.deepEqual(await readers.getUserSignatureChanges(alice, before, to), [bob]);
  assert.deepEqual(await readers.getUserSignatureChanges(carol, before, to), []);
});

test('signatures/upload reports each bad key in failures and stores the good ones', async () => {
  const alice = `@fa:${SERVER}`;
  const bob = `@fb:${SERVER}`;
  const a1 = h.device(alice, 'FA1');
  const a2 = h.device(alice, 'FA2');
  await uploadDevice(a1);
  await uploadDevice(a2);
  const aId = identity(alice);
  const bId = identity(bob);
  h.device(bob, 'FB1');
  const noCross = `@fn:${SERVER}`;
  assert.equal((await h.call('POST', `${V3}/keys/device_signing/upload`, { token: a1.token, body: aId.body })).status, 200);
  assert.equal((await h.call('POST', `${V3}/keys/device_signing/upload`, { token: h.device(bob, 'FB2').token, body: bId.body })).status, 200);
  const sskId = `ed25519:${aId.selfSigning.publicKey}`;
  const uskId = `ed25519:${aId.userSigning.publicKey}`;
  const body = {
    [alice]: {
      FA1: sign(a1.deviceKeys, alice, sskId, aId.selfSigning), // good
      FA2: sign(a2.deviceKeys, alice, sskId, newKeyPair()), // bad signature
      NOPE: sign({ ...a1.deviceKeys, device_id: 'NOPE' }, alice, sskId, aId.selfSigning), // unknown device
      [aId.master.publicKey]: sign(aId.body.master_key, alice, 'ed25519:FA2', a1.ed25519), // wrong device key
    },
    [bob]: {
      [bId.master.publicKey]: sign({ ...bId.body.master_key, usage: ['master', 'x'] }, alice, uskId, aId.userSigning), // content differs
      OTHER: {}, // not Bob's master key
    },
    [noCross]: { SOMEKEY: {} }, // no master key to sign
    '@r:remote.example': { K: {} },
  };
  const r = await h.call('POST', `${V3}/keys/signatures/upload`, { token: a1.token, body });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const f = r.json.failures;
  assert.deepEqual(Object.keys(f[alice]).sort(), ['FA2', 'NOPE', aId.master.publicKey].sort());
  assert.equal(f[alice].FA2.errcode, 'M_INVALID_SIGNATURE');
  assert.equal(f[alice].NOPE.errcode, 'M_NOT_FOUND');
  assert.equal(f[alice][aId.master.publicKey].errcode, 'M_INVALID_SIGNATURE');
  assert.deepEqual(Object.keys(f[bob]).sort(), ['OTHER', bId.master.publicKey].sort());
  assert.equal(f[bob][bId.master.publicKey].errcode, 'M_INVALID_PARAM');
  assert.equal(f[noCross].SOMEKEY.errcode, 'M_NOT_FOUND');
  assert.ok(f['@r:remote.example'].K);
  for (const byKey of Object.values(f) as Record<string, { errcode: string; error: string }>[]) {
    for (const e of Object.values(byKey)) assert.equal(typeof e.error, 'string');
  }
  const stored = await h.db.sql`SELECT target_key_id FROM e2e_cross_signing_signatures WHERE target_user_id = ${alice}`;
  assert.deepEqual(stored.map((s) => s.target_key_id), ['FA1']);

  // Without a self-signing key, signing own devices fails for each device.
  const solo = `@solo:${SERVER}`;
  const s1 = h.device(solo, 'S1');
  await uploadDevice(s1);
  const r2 = await h.call('POST', `${V3}/keys/signatures/upload`, {
    token: s1.token,
    body: { [solo]: { S1: sign(s1.deviceKeys, solo, 'ed25519:whatever', newKeyPair()) } },
  });
  assert.equal(r2.json.failures[solo].S1.errcode, 'M_NOT_FOUND');
});

test('a new self-signing key drops the signatures its predecessor made', async () => {
  const user = `@rot:${SERVER}`;
  const d = h.device(user, 'R1');
  await uploadDevice(d);
  const id = identity(user);
  await h.call('POST', `${V3}/keys/device_signing/upload`, { token: d.token, body: id.body });
  const sskId = `ed25519:${id.selfSigning.publicKey}`;
  await h.call('POST', `${V3}/keys/signatures/upload`, { token: d.token, body: { [user]: { R1: sign(d.deviceKeys, user, sskId, id.selfSigning) } } });
  const newSsk = newKeyPair();
  h.uia.pass = true;
  const r = await h.call('POST', `${V3}/keys/device_signing/upload`, {
    token: d.token,
    body: { self_signing_key: crossSigningKey(user, 'self_signing', newSsk, id.master) },
  });
  h.uia.pass = false;
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const q = await h.call('POST', `${V3}/keys/query`, { token: d.token, body: { device_keys: { [user]: ['R1'] } } });
  assert.equal(q.json.device_keys[user].R1.signatures[user][sskId], undefined);
  assert.ok(q.json.device_keys[user].R1.signatures[user]['ed25519:R1']);
});
