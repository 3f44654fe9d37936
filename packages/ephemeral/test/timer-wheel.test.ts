import test from 'node:test';
import assert from 'node:assert/strict';
import { TimerWheel } from '../src/timer-wheel.ts';

test('entries never come out early, come out at most one bucket late, and once per fetch', () => {
  const w = new TimerWheel<string>(1000);
  w.insert(0, 'a', 2500);
  w.insert(0, 'b', 3000);
  w.insert(0, 'a', 2600);
  assert.deepEqual(w.fetch(2400), []);
  assert.deepEqual(w.fetch(2999), []);
  assert.deepEqual(w.fetch(3000).sort(), ['a', 'b']);
  assert.deepEqual(w.fetch(10_000), []);
  assert.equal(w.size, 0);
});

test('a deadline already in the past comes out at the next fetch; long idle gaps are fine', () => {
  const w = new TimerWheel<number>(5000);
  w.fetch(100_000);
  w.insert(100_000, 1, 50);
  assert.deepEqual(w.fetch(100_001), [1]);
  w.insert(100_001, 2, 1e12);
  assert.deepEqual(w.fetch(1e12 - 1), []);
  assert.deepEqual(w.fetch(1e12), [2]);
});
