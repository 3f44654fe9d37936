/** Reading recipient bitmaps in memory must agree with how they are numbered (and with Postgres's get_bit). */
import test from 'node:test';
import assert from 'node:assert/strict';
import { hasRecipient, hasRecipientAbove, recipientNumbers } from '../src/index.ts';

test('hasRecipient and hasRecipientAbove agree with recipientNumbers on random bitmaps', () => {
  for (let round = 0; round < 500; round++) {
    const bits = Uint8Array.from({ length: 1 + Math.floor(Math.random() * 5) }, () => (Math.random() < 0.3 ? 0 : Math.floor(Math.random() * 256)));
    const numbers = recipientNumbers(bits);
    for (let n = -1; n < bits.length * 8 + 3; n++) {
      if (n >= 0) assert.equal(hasRecipient(bits, n), numbers.includes(n), `bit ${n} of ${[...bits]}`);
      assert.equal(hasRecipientAbove(bits, n), numbers.some((x) => x > n), `above ${n} of ${[...bits]}`);
    }
  }
});
