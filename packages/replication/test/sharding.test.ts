import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { pickInstance, shardIndex } from '../src/sharding.ts';

/** Independent reference: the digest as one little-endian BigInt (Synapse's reading). */
function reference(key: string, count: number): number {
  const hex = Buffer.from(createHash('sha256').update(key, 'utf8').digest()).reverse().toString('hex');
  return Number(BigInt(`0x${hex}`) % BigInt(count));
}

describe('sharding', () => {
  test('pinned outputs (must never change: every process of a fleet has to agree)', () => {
    const pinned: [string, number, number][] = [
      ['!room:example.org', 2, reference('!room:example.org', 2)],
      ['matrix.org', 3, reference('matrix.org', 3)],
      ['@alice:example.org', 5, reference('@alice:example.org', 5)],
      ['', 7, reference('', 7)],
    ];
    for (const [key, count, expected] of pinned) assert.equal(shardIndex(key, count), expected, key);
    // Literal values, so a change of the reference itself is caught too.
    // Computed independently (Python: int.from_bytes(hashlib.sha256(key).digest(), 'little') % count).
    assert.equal(shardIndex('', 7), 3);
    assert.equal(shardIndex('matrix.org', 3), 2);
    assert.equal(shardIndex('!room:example.org', 2), 1);
    assert.equal(shardIndex('@alice:example.org', 5), 4);
    assert.equal(shardIndex('abc', 1000), 570);
  });

  test('agrees with the BigInt reference for any key and count', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.integer({ min: 1, max: 2 ** 32 }), (key, count) => {
        assert.equal(shardIndex(key, count), reference(key, count));
      }),
      { numRuns: 500 },
    );
  });

  test('is stable across calls and spreads keys evenly', () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) {
      const key = `!room${i}:example.org`;
      const idx = shardIndex(key, 4);
      assert.equal(shardIndex(key, 4), idx);
      counts[idx]!++;
    }
    for (const c of counts) assert.ok(c > 850 && c < 1150, `uneven distribution ${counts.join(',')}`);
  });

  test('pickInstance keeps the configured order and rejects bad input', () => {
    const instances = ['fed1', 'fed2', 'fed3'];
    assert.equal(pickInstance('matrix.org', instances), instances[reference('matrix.org', 3)]);
    assert.equal(pickInstance('anything', ['only']), 'only');
    assert.throws(() => pickInstance('x', []), RangeError);
    assert.throws(() => shardIndex('x', 0), RangeError);
    assert.throws(() => shardIndex('x', 1.5), RangeError);
  });
});
