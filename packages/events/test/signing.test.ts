import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBase64, encodeBase64 } from '@hs/core';
import {
  generateSigningSeed,
  isValidSigningKeyId,
  keyPairFromSeed,
  parseKeyId,
  publicKeyOf,
  signBytes,
  signJson,
  SigningError,
  verifyBytes,
  verifyJsonSignature,
} from '../src/signing.ts';
import { hashAndSignEvent, signEvent, verifyServerSignature } from '../src/event-signing.ts';
import { getRoomVersion } from '../src/room-versions.ts';
import type { RoomVersion } from '../src/room-versions.ts';

/** appendices.md › Cryptographic Test Vectors › Signing Key. */
const SEED = decodeBase64('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1');
const SERVER = 'domain';
const KEY_ID = 'ed25519:1';
const rv = (id: string): RoomVersion => getRoomVersion(id)!;

test('key pair from the spec seed', () => {
  const { publicKey, secretKey } = keyPairFromSeed(SEED);
  assert.equal(encodeBase64(publicKey), 'XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI');
  assert.equal(secretKey.length, 64);
  assert.deepEqual(publicKeyOf(SEED), publicKey);
  assert.deepEqual(publicKeyOf(secretKey), publicKey);
  assert.throws(() => keyPairFromSeed(new Uint8Array(31)), SigningError);
  const fresh = generateSigningSeed();
  assert.equal(fresh.length, 32);
  assert.notDeepEqual(fresh, generateSigningSeed());
});

test('JSON signing vectors', () => {
  const empty = signJson({}, SERVER, KEY_ID, SEED);
  assert.deepEqual(empty, {
    signatures: {
      domain: {
        'ed25519:1': 'K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ',
      },
    },
  });
  const withData = signJson({ one: 1, two: 'Two' }, SERVER, KEY_ID, keyPairFromSeed(SEED).secretKey);
  assert.deepEqual(withData, {
    one: 1,
    signatures: {
      domain: {
        'ed25519:1': 'KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw',
      },
    },
    two: 'Two',
  });
});

test('signJson keeps other signatures and unsigned, which are not signed', () => {
  const obj = { a: 1, unsigned: { age: 5 }, signatures: { other: { 'ed25519:x': 'abc' } } };
  const signed = signJson(obj, SERVER, KEY_ID, SEED);
  assert.deepEqual(signed.unsigned, { age: 5 });
  assert.equal(signed.signatures.other!['ed25519:x'], 'abc');
  assert.equal(obj.signatures.other['ed25519:x'], 'abc');
  assert.equal(Object.keys(obj.signatures).length, 1, 'input not mutated');
  // Same signature as signing {a:1} alone.
  assert.equal(signed.signatures.domain!['ed25519:1'], signJson({ a: 1 }, SERVER, KEY_ID, SEED).signatures.domain!['ed25519:1']);
  const pk = publicKeyOf(SEED);
  assert.equal(verifyJsonSignature({ ...signed, unsigned: { age: 99 } }, SERVER, KEY_ID, pk), true);
  assert.equal(verifyJsonSignature({ ...signed, a: 2 }, SERVER, KEY_ID, pk), false);
});

test('verifyJsonSignature fails closed on anything odd', () => {
  const pk = publicKeyOf(SEED);
  const signed = signJson({ one: 1, two: 'Two' }, SERVER, KEY_ID, SEED);
  assert.equal(verifyJsonSignature(signed, SERVER, KEY_ID, pk), true);
  assert.equal(verifyJsonSignature(signed, 'other', KEY_ID, pk), false);
  assert.equal(verifyJsonSignature(signed, SERVER, 'ed25519:2', pk), false);
  assert.equal(verifyJsonSignature(signed, SERVER, KEY_ID, keyPairFromSeed(new Uint8Array(32)).publicKey), false);
  assert.equal(verifyJsonSignature(signed, SERVER, KEY_ID, new Uint8Array(5)), false);
  const sig = signed.signatures.domain!['ed25519:1']!;
  const tamper = (s: unknown) => ({ ...signed, signatures: { domain: { 'ed25519:1': s } } }) as never;
  assert.equal(verifyJsonSignature(tamper('!!!'), SERVER, KEY_ID, pk), false);
  assert.equal(verifyJsonSignature(tamper(sig.slice(0, 40)), SERVER, KEY_ID, pk), false);
  assert.equal(verifyJsonSignature(tamper(5), SERVER, KEY_ID, pk), false);
  assert.equal(verifyJsonSignature({ ...signed, signatures: 'x' } as never, SERVER, KEY_ID, pk), false);
  assert.equal(verifyJsonSignature({ ...signed, x: 1.5 } as never, SERVER, KEY_ID, pk), false);
  assert.equal(verifyJsonSignature({ ...signed, x: 1.5 } as never, SERVER, KEY_ID, pk, { lenientNumbers: true }), false);
  // A padded or URL-safe signature is still the same signature (Synapse accepts both).
  assert.equal(verifyJsonSignature(tamper(sig + '=='), SERVER, KEY_ID, pk), true);
  assert.equal(verifyJsonSignature(tamper(sig.replaceAll('+', '-').replaceAll('/', '_')), SERVER, KEY_ID, pk), true);
  assert.equal(verifyBytes(new Uint8Array(64), new Uint8Array(1), pk), false);
  assert.equal(verifyBytes(signBytes(new Uint8Array([1]), SEED), new Uint8Array([1]), pk), true);
});

test('key IDs', () => {
  assert.equal(isValidSigningKeyId('ed25519:1'), true);
  assert.equal(isValidSigningKeyId('ed25519:a_B9'), true);
  for (const bad of ['ed25519:', 'ed25519', 'curve25519:1', 'ed25519:a-b', 'ed25519:a:b', 'ed25519:é', '']) {
    assert.equal(isValidSigningKeyId(bad), false, bad);
  }
  assert.throws(() => signJson({}, SERVER, 'ed25519:a b', SEED), (e: SigningError) => e.code === 'invalid_key_id');
  assert.throws(() => signJson({ x: 0.5 }, SERVER, KEY_ID, SEED), (e: SigningError) => e.code === 'not_encodable');
  assert.deepEqual(parseKeyId('ed25519:abc'), { algorithm: 'ed25519', version: 'abc' });
  assert.equal(parseKeyId('nocolon'), undefined);
});

/** appendices.md › Cryptographic Test Vectors › Event Signing. */
test('event signing vectors (v1–10 redaction keeps origin)', () => {
  const minimal = {
    room_id: '!x:domain',
    sender: '@a:domain',
    origin: 'domain',
    origin_server_ts: 1000000,
    signatures: {},
    hashes: {},
    type: 'X',
    content: {},
    prev_events: [],
    auth_events: [],
    depth: 3,
    unsigned: { age_ts: 1000000 },
  };
  const message = {
    content: { body: 'Here is the message content' },
    event_id: '$0:domain',
    origin: 'domain',
    origin_server_ts: 1000000,
    type: 'm.room.message',
    room_id: '!r:domain',
    sender: '@u:domain',
    signatures: {},
    unsigned: { age_ts: 1000000 },
  };
  for (const id of ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']) {
    const a = hashAndSignEvent(minimal, rv(id), SERVER, KEY_ID, SEED);
    assert.deepEqual(a, {
      ...minimal,
      hashes: { sha256: '5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos' },
      signatures: {
        domain: {
          'ed25519:1': 'KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg',
        },
      },
    });
    const b = hashAndSignEvent(message, rv(id), SERVER, KEY_ID, SEED);
    assert.deepEqual(b, {
      ...message,
      hashes: { sha256: 'onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g' },
      signatures: {
        domain: {
          'ed25519:1': 'Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA',
        },
      },
    });
  }
  // v11+ no longer protects `origin`: same content hash, different signature.
  const v11 = hashAndSignEvent(minimal, rv('11'), SERVER, KEY_ID, SEED);
  assert.equal(v11.hashes.sha256, '5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos');
  assert.notEqual(
    v11.signatures.domain!['ed25519:1' as never],
    'KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg',
  );
});

test('event signatures survive redaction and are checked per server', () => {
  const other = keyPairFromSeed(new Uint8Array(32).fill(7));
  const ev = {
    room_id: '!r:domain',
    sender: '@u:domain',
    origin_server_ts: 5,
    type: 'm.room.message',
    content: { body: 'hi' },
    prev_events: [],
    auth_events: [],
    depth: 1,
  };
  const signed = hashAndSignEvent(ev, rv('10'), SERVER, KEY_ID, SEED);
  const cosigned = signEvent(signed, rv('10'), 'other.org', 'ed25519:k', other.secretKey);
  assert.equal(cosigned.signatures.domain!['ed25519:1' as never], signed.signatures.domain!['ed25519:1' as never]);
  const keys = (server: string, keyId: string, atTs: number) => {
    assert.equal(atTs, 5, 'v5+ passes origin_server_ts');
    if (server === SERVER && keyId === KEY_ID) return publicKeyOf(SEED);
    if (server === 'other.org' && keyId === 'ed25519:k') return other.publicKey;
    return undefined;
  };
  assert.deepEqual(verifyServerSignature(cosigned, rv('10'), SERVER, keys), { ok: true, keyIds: [KEY_ID] });
  assert.deepEqual(verifyServerSignature(cosigned, rv('10'), 'other.org', keys), { ok: true, keyIds: ['ed25519:k'] });
  // Changing the body breaks the hash, not the signature.
  assert.equal(verifyServerSignature({ ...cosigned, content: { body: 'bye' } }, rv('10'), SERVER, keys).ok, true);
  assert.deepEqual(verifyServerSignature({ ...cosigned, depth: 2 }, rv('10'), SERVER, keys), {
    ok: false,
    reason: 'bad_signature',
    keyId: KEY_ID,
  });
  assert.equal((verifyServerSignature(cosigned, rv('10'), 'third.org', keys) as { reason: string }).reason, 'not_signed');
  const unknownKey = () => undefined;
  assert.equal((verifyServerSignature(cosigned, rv('10'), SERVER, unknownKey) as { reason: string }).reason, 'no_known_key');
  const onlyOther = { ...cosigned, signatures: { domain: { 'curve25519:1': 'x' } } };
  assert.equal((verifyServerSignature(onlyOther, rv('10'), SERVER, keys) as { reason: string }).reason, 'no_supported_key');
  // v1–4: any key ever used, so atTs = 0.
  const v4 = hashAndSignEvent(ev, rv('4'), SERVER, KEY_ID, SEED);
  let seenTs = -1;
  verifyServerSignature(v4, rv('4'), SERVER, (_s, _k, ts) => {
    seenTs = ts;
    return publicKeyOf(SEED);
  });
  assert.equal(seenTs, 0);
});
