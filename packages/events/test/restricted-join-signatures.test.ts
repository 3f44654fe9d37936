import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '@hs/core';
import { buildEvent } from '../src/build-event.ts';
import { signEvent } from '../src/event-signing.ts';
import { getRoomVersion } from '../src/room-versions.ts';
import type { RoomVersion } from '../src/room-versions.ts';
import { generateSigningSeed, keyPairFromSeed } from '../src/signing.ts';
import { requiredSignatures, verifyEvent } from '../src/verify-event.ts';
import type { PDU } from '../src/types.ts';

const rv = (id: string): RoomVersion => getRoomVersion(id)!;
const A = keyPairFromSeed(generateSigningSeed());
const B = keyPairFromSeed(generateSigningSeed());
const KEYS: Record<string, Record<string, Uint8Array>> = {
  'a.org': { 'ed25519:a1': A.publicKey },
  'b.org': { 'ed25519:b1': B.publicKey },
};
const keys = (server: string, keyId: string) => KEYS[server]?.[keyId];

/** Bob (b.org) joins, with alice (a.org) named as the resident user who authorised it. */
function member(v: RoomVersion, content: JsonObject): PDU {
  return buildEvent({
    roomVersion: v,
    roomId: v.roomIdFromCreateEvent ? '!Peb6jqBYLNdyaT0lXdvyjCpnvZauVDBvGH_8-ybEFXA' : '!room:a.org',
    sender: '@bob:b.org',
    type: 'm.room.member',
    stateKey: '@bob:b.org',
    content,
    prevEvents: ['$prev'],
    authEvents: ['$auth'],
    depth: 5,
    originServerTs: 1700000000000,
    serverName: 'b.org',
    keyId: 'ed25519:b1',
    secretKey: B.secretKey,
  }).pdu;
}

const viaAlice: JsonObject = { membership: 'join', join_authorised_via_users_server: '@alice:a.org' };

test('v8+: a restricted join must also be signed by the authorising user’s server', () => {
  for (const id of ['8', '9', '10', '11', '12']) {
    const v = rv(id);
    const pdu = member(v, viaAlice);
    assert.deepEqual(requiredSignatures(pdu, v), ['b.org', 'a.org'], `v${id}`);

    const unsigned = verifyEvent(pdu, v, keys);
    assert.equal(unsigned.ok, false, `v${id}: only the joining server signed`);
    assert.equal(!unsigned.ok && unsigned.stage, 'signatures');
    assert.equal(!unsigned.ok && unsigned.stage === 'signatures' && unsigned.serverName, 'a.org');
    assert.equal(!unsigned.ok && unsigned.stage === 'signatures' && unsigned.failure.reason, 'not_signed');

    const cosigned = signEvent(pdu, v, 'a.org', 'ed25519:a1', A.secretKey);
    const ok = verifyEvent(cosigned, v, keys);
    assert.ok(ok.ok, `v${id}: co-signed join verifies`);
    assert.equal(ok.redacted, false);

    // a.org "signs" with a key that is not the one it publishes.
    const forged = signEvent(pdu, v, 'a.org', 'ed25519:a1', B.secretKey);
    const bad = verifyEvent(forged, v, keys);
    assert.equal(!bad.ok && bad.stage === 'signatures' && bad.serverName, 'a.org');
    assert.equal(!bad.ok && bad.stage === 'signatures' && bad.failure.reason, 'bad_signature');

    // A signature from the authorising server under a key we do not know does not count.
    const unknownKey = signEvent(pdu, v, 'a.org', 'ed25519:zz', A.secretKey);
    const r = verifyEvent(unknownKey, v, keys);
    assert.equal(!r.ok && r.stage === 'signatures' && r.failure.reason, 'no_known_key');
  }
});

test('the authorising signature covers this event: one lifted from another join fails', () => {
  const v = rv('10');
  const pdu = member(v, viaAlice);
  const sig = (p: PDU) => signEvent(p, v, 'a.org', 'ed25519:a1', A.secretKey).signatures['a.org']!;
  const withA = (s: Record<string, string>) => ({ ...pdu, signatures: { ...pdu.signatures, 'a.org': s } });
  assert.ok(verifyEvent(withA(sig(pdu)), v, keys).ok);
  // The signed (redacted) form keeps `hashes`, so even content that redaction drops is covered.
  const r = verifyEvent(withA(sig(member(v, { ...viaAlice, displayname: 'other' }))), v, keys);
  assert.equal(!r.ok && r.stage === 'signatures' && r.serverName === 'a.org' && r.failure.reason, 'bad_signature');
});

test('not required before v8, for other memberships, or when the authoriser shares the sender’s server', () => {
  const v7 = rv('7');
  const old = member(v7, viaAlice);
  assert.deepEqual(requiredSignatures(old, v7), ['b.org']);
  assert.ok(verifyEvent(old, v7, keys).ok);

  const v = rv('10');
  for (const membership of ['leave', 'invite', 'knock', 'ban']) {
    const pdu = member(v, { membership, join_authorised_via_users_server: '@alice:a.org' });
    assert.deepEqual(requiredSignatures(pdu, v), ['b.org'], membership);
    assert.ok(verifyEvent(pdu, v, keys).ok, membership);
  }
  const sameServer = member(v, { membership: 'join', join_authorised_via_users_server: '@carol:b.org' });
  assert.deepEqual(requiredSignatures(sameServer, v), ['b.org']);
  assert.ok(verifyEvent(sameServer, v, keys).ok);
  const plain = member(v, { membership: 'join' });
  assert.deepEqual(requiredSignatures(plain, v), ['b.org']);
});

test('an authoriser that names no server can never be satisfied', () => {
  const v = rv('10');
  for (const via of ['alice', 42, null]) {
    const pdu = member(v, { membership: 'join', join_authorised_via_users_server: via });
    assert.deepEqual(requiredSignatures(pdu, v), ['b.org', undefined], String(via));
    const r = verifyEvent(pdu, v, keys);
    assert.equal(!r.ok && r.stage === 'signatures' && r.failure.reason, 'no_server_name', String(via));
  }
});
