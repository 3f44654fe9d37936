import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '@hs/core';
import { buildEvent } from '../src/build-event.ts';
import type { BuildEventInput } from '../src/build-event.ts';
import { computeEventId, eventReference } from '../src/event-id.ts';
import { checkContentHash } from '../src/hashes.ts';
import { redactEvent } from '../src/redaction.ts';
import { getRoomVersion, ROOM_VERSIONS } from '../src/room-versions.ts';
import type { RoomVersion } from '../src/room-versions.ts';
import { keyPairFromSeed, signJson, SigningError } from '../src/signing.ts';
import { signEvent } from '../src/event-signing.ts';
import { requiredSignatures, verifyEvent } from '../src/verify-event.ts';
import { validatePduFormat } from '../src/pdu-format.ts';
import type { PDU } from '../src/types.ts';

const rv = (id: string): RoomVersion => getRoomVersion(id)!;
const A = keyPairFromSeed(new Uint8Array(32).fill(1));
const B = keyPairFromSeed(new Uint8Array(32).fill(2));
const KEYS: Record<string, Record<string, Uint8Array>> = {
  'a.org': { 'ed25519:a1': A.publicKey },
  'b.org': { 'ed25519:b1': B.publicKey },
};
const lookup = (server: string, keyId: string) => KEYS[server]?.[keyId];

function input(v: RoomVersion, over: Partial<BuildEventInput> = {}): BuildEventInput {
  return {
    roomVersion: v,
    roomId: v.roomIdFromCreateEvent ? '!Peb6jqBYLNdyaT0lXdvyjCpnvZauVDBvGH_8-ybEFXA' : '!room:a.org',
    sender: '@alice:a.org',
    type: 'm.room.message',
    content: { body: 'hello \u{1F600}', n: 9007199254740991 },
    prevEvents: v.eventIdFormat === 'wire' ? [['$p:a.org', { sha256: 'x' }]] : ['$prev'],
    authEvents: v.eventIdFormat === 'wire' ? ['$c:a.org'] : ['$auth'],
    depth: 10,
    originServerTs: 1700000000000,
    serverName: 'a.org',
    keyId: 'ed25519:a1',
    secretKey: A.secretKey,
    ...over,
  };
}

test('built events verify in every version and have the right shape', () => {
  for (const v of ROOM_VERSIONS.values()) {
    const built = buildEvent(input(v));
    const { pdu } = built;
    assert.ok(validatePduFormat(pdu, v).ok, `v${v.id} format`);
    assert.equal(built.eventId, computeEventId(pdu, v));
    assert.equal(built.roomId, pdu.room_id);
    assert.equal('origin' in pdu, false, 'modern PDUs have no origin');
    if (v.eventIdFormat === 'wire') {
      assert.match(built.eventId, /^\$[A-Za-z0-9_-]+:a\.org$/);
      assert.deepEqual(pdu.auth_events, [['$c:a.org', {}]]);
      assert.deepEqual(pdu.prev_events, [['$p:a.org', { sha256: 'x' }]]);
    } else {
      assert.equal('event_id' in pdu, false);
      assert.match(built.eventId, v.eventIdFormat === 'base64' ? /^\$[A-Za-z0-9+/]{43}$/ : /^\$[A-Za-z0-9_-]{43}$/);
      assert.deepEqual(pdu.auth_events, ['$auth']);
    }
    const r = verifyEvent(pdu, v, lookup);
    assert.ok(r.ok, `v${v.id} verifies: ${JSON.stringify(r)}`);
    assert.equal(r.eventId, built.eventId);
    assert.equal(r.redacted, false);
    assert.equal(r.pdu, pdu);
  }
});

test('redactions: redacts top-level until v10, in content from v11', () => {
  for (const v of ROOM_VERSIONS.values()) {
    const { pdu } = buildEvent(input(v, { type: 'm.room.redaction', content: { reason: 'r' }, redacts: '$target' }));
    if (v.redactsInContent) {
      assert.deepEqual(pdu.content, { reason: 'r', redacts: '$target' });
      assert.equal('redacts' in pdu, false);
    } else {
      assert.equal(pdu.redacts, '$target');
      assert.deepEqual(pdu.content, { reason: 'r' });
    }
    assert.ok(verifyEvent(pdu, v, lookup).ok);
  }
});

test('v12 create events define the room ID', () => {
  const v = rv('12');
  const built = buildEvent(
    input(v, { type: 'm.room.create', stateKey: '', content: { room_version: '12' }, prevEvents: [], authEvents: [], roomId: undefined }),
  );
  assert.equal('room_id' in built.pdu, false);
  assert.equal(built.roomId, '!' + built.eventId.slice(1));
  const r = verifyEvent(built.pdu, v, lookup);
  assert.ok(r.ok);
  assert.equal(r.roomId, built.roomId);
  // Everything else needs a room ID.
  assert.throws(() => buildEvent(input(v, { roomId: undefined })), TypeError);
  assert.throws(() => buildEvent(input(rv('11'), { type: 'm.room.create', stateKey: '', roomId: undefined })), TypeError);
});

test('buildEvent rejects bad input', () => {
  const v = rv('10');
  assert.throws(() => buildEvent(input(v, { keyId: 'ed25519:bad-id' })), SigningError);
  assert.throws(() => buildEvent(input(v, { depth: -1 })), RangeError);
  assert.throws(() => buildEvent(input(v, { depth: 1.5 })), RangeError);
  assert.throws(() => buildEvent(input(v, { content: { x: 0.5 } })));
  // Rooms v1–5 tolerate non-canonical numbers.
  assert.ok(buildEvent(input(rv('5'), { content: { x: 0.5 } })).pdu);
});

test('a content hash mismatch yields the redacted copy', () => {
  for (const v of ROOM_VERSIONS.values()) {
    const { pdu, eventId } = buildEvent(input(v, { unsigned: { age: 1 } }));
    const tampered = { ...pdu, content: { body: 'changed' } };
    const r = verifyEvent(tampered, v, lookup);
    assert.ok(r.ok);
    assert.equal(r.redacted, true);
    assert.equal(r.eventId, eventId, 'the ID covers only the redacted form');
    assert.deepEqual(r.pdu, redactEvent(pdu, v));
    assert.deepEqual(r.pdu.content, {});
    // A redacted copy received as such also verifies, and its hash check fails the same way.
    assert.equal(checkContentHash(r.pdu, v), false);
    assert.ok(verifyEvent(r.pdu, v, lookup).ok);
  }
});

test('signature failures drop the event', () => {
  for (const v of ROOM_VERSIONS.values()) {
    const { pdu } = buildEvent(input(v));
    const fail = (ev: unknown, keys = lookup) => {
      const r = verifyEvent(ev, v, keys);
      assert.equal(r.ok, false, `v${v.id}`);
      return r;
    };
    // A change to a signed (redaction-protected) field.
    const r1 = fail({ ...pdu, depth: 11 });
    assert.equal(!r1.ok && r1.stage, 'signatures');
    // Unknown key: nothing to check with.
    const r2 = fail(pdu, () => undefined);
    assert.deepEqual(!r2.ok && r2.stage === 'signatures' && r2.failure, { ok: false, reason: 'no_known_key' });
    // Signed by the wrong server.
    const wrong = signEvent({ ...pdu, signatures: {} }, v, 'b.org', 'ed25519:b1', B.secretKey);
    const r3 = fail(wrong);
    assert.equal(!r3.ok && r3.stage === 'signatures' && r3.serverName, 'a.org');
    // Format errors come first.
    const r4 = fail({ ...pdu, depth: 'x' });
    assert.equal(!r4.ok && r4.stage, 'format');
    // A second good signature from another server does not hurt; a bad known one does.
    assert.ok(verifyEvent(signEvent(pdu, v, 'b.org', 'ed25519:b1', B.secretKey), v, lookup).ok);
    const badExtra = { ...pdu, signatures: { 'a.org': { ...pdu.signatures['a.org'], 'ed25519:a2': 'AAAA' } } };
    const keysWithA2 = (s: string, k: string) => (k === 'ed25519:a2' ? A.publicKey : lookup(s, k));
    const r5 = fail(badExtra, keysWithA2);
    assert.deepEqual(!r5.ok && r5.stage === 'signatures' && r5.failure, { ok: false, reason: 'bad_signature', keyId: 'ed25519:a2' });
  }
});

test('rooms v1–2 also need the event ID server; v5+ pass the event time to the key lookup', () => {
  const v = rv('1');
  // Sent by b.org's user, but the event ID says a.org.
  const { pdu } = buildEvent(input(v, { sender: '@bob:b.org', serverName: 'a.org' }));
  assert.deepEqual(requiredSignatures(pdu, v), ['b.org', 'a.org']);
  const onlyA = verifyEvent(pdu, v, lookup);
  assert.equal(!onlyA.ok && onlyA.stage === 'signatures' && onlyA.serverName, 'b.org');
  const both = signEvent(pdu, v, 'b.org', 'ed25519:b1', B.secretKey);
  assert.ok(verifyEvent(both, v, lookup).ok);
  // Without the a.org signature it fails even though the sender signed.
  const onlyB = signEvent({ ...pdu, signatures: {} }, v, 'b.org', 'ed25519:b1', B.secretKey);
  const r = verifyEvent(onlyB, v, lookup);
  assert.equal(!r.ok && r.stage === 'signatures' && r.serverName, 'a.org');
  // Same situation in v3+: only the sender's server matters.
  const v3 = buildEvent(input(rv('3'), { sender: '@bob:b.org', serverName: 'b.org', keyId: 'ed25519:b1', secretKey: B.secretKey }));
  assert.deepEqual(requiredSignatures(v3.pdu, rv('3')), ['b.org']);

  const seen: number[] = [];
  for (const id of ['4', '5']) {
    const ev = buildEvent(input(rv(id))).pdu;
    verifyEvent(ev, rv(id), (s, k, ts) => {
      seen.push(ts);
      return lookup(s, k);
    });
  }
  assert.deepEqual(seen, [0, 1700000000000]);
});

test('third-party invites do not need the sender server signature', () => {
  const v = rv('10');
  const content: JsonObject = { membership: 'invite', third_party_invite: { display_name: 'x', signed: { mxid: '@c:c.org' } } };
  const { pdu } = buildEvent(
    input(v, { type: 'm.room.member', stateKey: '@c:c.org', content, sender: '@alice:c.org' }),
  );
  assert.deepEqual(requiredSignatures(pdu, v), []);
  assert.ok(verifyEvent(pdu, v, lookup).ok);
  const plainInvite = buildEvent(input(v, { type: 'm.room.member', stateKey: '@c:c.org', content: { membership: 'invite' }, sender: '@alice:c.org' }));
  assert.equal(verifyEvent(plainInvite.pdu, v, lookup).ok, false);
});

test('v1–2 references carry reference hashes via eventReference', () => {
  const v = rv('2');
  const first = buildEvent(input(v));
  const ref = eventReference(first.pdu, v);
  const second = buildEvent(input(v, { prevEvents: [ref], authEvents: [ref] }));
  assert.deepEqual(second.pdu.prev_events, [ref]);
  assert.ok(verifyEvent(second.pdu, v, lookup).ok);
});

test('signJson and event signing agree on what is signed for non-events', () => {
  // Sanity: an event signature is a JSON signature over the redacted event.
  const v = rv('10');
  const { pdu } = buildEvent(input(v));
  const { signatures: _s, ...unsignedPdu } = redactEvent(pdu, v) as PDU;
  const manual = signJson(unsignedPdu as unknown as JsonObject, 'a.org', 'ed25519:a1', A.secretKey);
  assert.equal(manual.signatures['a.org']!['ed25519:a1'], pdu.signatures['a.org']!['ed25519:a1']);
});
