import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Base64Error,
  decodeBase64,
  decodeBase64Url,
  encodeBase64,
  encodeBase64Url,
  tryDecodeBase64,
  tryDecodeBase64AnyAlphabet,
  tryDecodeBase64Url,
} from '../src/base64.ts';

const bytes = (...b: number[]) => new Uint8Array(b);

test('encodes unpadded, standard and URL-safe', () => {
  assert.equal(encodeBase64(bytes()), '');
  assert.equal(encodeBase64(bytes(0x66)), 'Zg');
  assert.equal(encodeBase64(bytes(0x66, 0x6f)), 'Zm8');
  assert.equal(encodeBase64(bytes(0x66, 0x6f, 0x6f)), 'Zm9v');
  assert.equal(encodeBase64(bytes(0xfb, 0xff)), '+/8');
  assert.equal(encodeBase64Url(bytes(0xfb, 0xff)), '-_8');
  // A view into a larger buffer encodes only its own bytes.
  const big = bytes(1, 2, 3, 0x66, 0x6f, 9);
  assert.equal(encodeBase64(big.subarray(3, 5)), 'Zm8');
});

test('decodes padded and unpadded input', () => {
  assert.deepEqual(decodeBase64('Zm8'), bytes(0x66, 0x6f));
  assert.deepEqual(decodeBase64('Zm8='), bytes(0x66, 0x6f));
  assert.deepEqual(decodeBase64('Zg=='), bytes(0x66));
  assert.deepEqual(decodeBase64('Zg'), bytes(0x66));
  assert.deepEqual(decodeBase64('+/8'), bytes(0xfb, 0xff));
  assert.deepEqual(decodeBase64Url('-_8'), bytes(0xfb, 0xff));
  assert.deepEqual(decodeBase64Url('-_8='), bytes(0xfb, 0xff));
  assert.deepEqual(decodeBase64(''), bytes());
  // The spec's signing seed has non-zero trailing bits; it must still decode to 32 bytes.
  assert.equal(decodeBase64('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1').length, 32);
});

test('rejects garbage', () => {
  const bad = ['Z', 'Zm9vY', 'Zm 8', 'Zm8==', 'Z===', '=', '====', 'Zg=a', 'Zm9v=', 'Zg=', '@@@@', 'Zm8\n', 'Z-8', 'é'];
  for (const s of bad) {
    assert.throws(() => decodeBase64(s), Base64Error, JSON.stringify(s));
    assert.equal(tryDecodeBase64(s), undefined);
  }
  assert.throws(() => decodeBase64Url('+/8'), Base64Error);
  assert.equal(tryDecodeBase64Url('Zm8+'), undefined);
  assert.throws(() => decodeBase64Url('-_8'.repeat(1) + '=='), Base64Error);
});

test('either-alphabet decoding for received signatures and hashes', () => {
  assert.deepEqual(tryDecodeBase64AnyAlphabet('-_8'), bytes(0xfb, 0xff));
  assert.deepEqual(tryDecodeBase64AnyAlphabet('+_8='), bytes(0xfb, 0xff));
  assert.deepEqual(tryDecodeBase64AnyAlphabet('+/8'), bytes(0xfb, 0xff));
  for (const bad of ['Z', 'Zm 8', 'Zm8==', '@@', 'Zg=a']) assert.equal(tryDecodeBase64AnyAlphabet(bad), undefined, bad);
});

test('round-trips random bytes', () => {
  for (let n = 0; n < 70; n++) {
    const b = new Uint8Array(n).map((_, i) => (i * 37 + n * 11) & 0xff);
    assert.deepEqual(decodeBase64(encodeBase64(b)), b);
    assert.deepEqual(decodeBase64Url(encodeBase64Url(b)), b);
    assert.ok(!encodeBase64(b).includes('='));
  }
});
