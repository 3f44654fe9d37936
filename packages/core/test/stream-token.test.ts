import test from 'node:test';
import assert from 'node:assert/strict';
import {
  decodePosition,
  decodeRoomToken,
  decodeSyncToken,
  emptySyncToken,
  encodePosition,
  encodeRoomToken,
  encodeSyncToken,
  maxPosition,
  positionFor,
  positionOf,
  TokenError,
} from '../src/stream-token.ts';

test('single-writer positions encode as plain integers', () => {
  assert.equal(encodePosition(positionOf(42)), '42');
  assert.deepEqual(decodePosition('42'), { min: 42, ahead: new Map() });
});

test('multi-writer positions round-trip and drop writers not ahead', () => {
  const p = positionOf(10, [
    [3, 15],
    [1, 12],
    [2, 10],
  ]);
  assert.equal(encodePosition(p), 'm10~1.12~3.15');
  const back = decodePosition('m10~1.12~3.15');
  assert.equal(positionFor(back, 3), 15);
  assert.equal(positionFor(back, 2), 10);
  assert.equal(maxPosition(back), 15);
});

test('malformed positions are rejected with TokenError', () => {
  for (const bad of ['', '-1', '01', 'm', 'm5~x', 'm5~1', 'm5~1.2~1.3', '1e3', '99999999999999999', 'm5~1.-2']) {
    assert.throws(() => decodePosition(bad), TokenError, bad);
  }
});

test('sync tokens round-trip every stream and accept shorter (older) tokens', () => {
  const t = { ...emptySyncToken(), events: positionOf(100, [[2, 104]]), typing: positionOf(7), to_device: positionOf(3) };
  const text = encodeSyncToken(t);
  assert.equal(text, 's m100~2.104_0_7_0_0_0_3_0_0'.replace(' ', ''));
  assert.deepEqual(decodeSyncToken(text), t);
  assert.equal(decodeSyncToken('s5').events.min, 5);
  assert.equal(decodeSyncToken('s5').device_lists.min, 0);
  assert.throws(() => decodeSyncToken('x5'), TokenError);
  assert.throws(() => decodeSyncToken('s1_2_3_4_5_6_7_8_9_10'), TokenError);
});

test('room tokens: stream and topological forms', () => {
  assert.equal(encodeRoomToken({ stream: positionOf(9) }), 's9');
  assert.equal(encodeRoomToken({ topological: 4, stream: positionOf(9, [[1, 11]]) }), 't4-m9~1.11');
  assert.deepEqual(decodeRoomToken('t4-9'), { topological: 4, stream: { min: 9, ahead: new Map() } });
  assert.throws(() => decodeRoomToken('t4'), TokenError);
  assert.throws(() => decodeRoomToken('q1'), TokenError);
});
