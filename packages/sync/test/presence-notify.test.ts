/**
 * Presence and device-list changes name a user; long-polls listen on rooms. The wrapper finds the user's
 * rooms (one query) only when this process has long-polls to wake at all.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '@hs/core';
import type { Sql } from '@hs/storage';
import { presenceAwareNotify } from '../src/presence-notify.ts';
import { startHarness, type Harness } from './harness.ts';

let h: Harness;
test.before(async () => {
  h = await startHarness();
});
test.after(async () => {
  await h.close();
});

test('a user change wakes the rooms they are in, and costs nothing where nobody listens', async () => {
  const alice = await h.register('alice');
  const bob = await h.register('bob');
  const roomId = await h.createRoom(alice, { preset: 'public_chat' });
  let queries = 0;
  const counting = ((...args: Parameters<Sql>) => {
    queries++;
    return (h.db.sql as unknown as (...a: unknown[]) => unknown)(...args);
  }) as unknown as Sql;
  const wake = presenceAwareNotify(h.notifier, counting, silentLogger);

  assert.equal(h.notifier.keyCount, 0);
  wake({ stream: 'presence', position: 1, users: [alice.userId] });
  wake({ stream: 'device_lists', position: 1, users: [alice.userId] });
  assert.equal(queries, 0, 'no long-polls here: the rooms are not looked up');

  const listener = h.notifier.listen(bob.userId, [roomId]);
  try {
    wake({ stream: 'device_lists', position: 2, users: [alice.userId] });
    assert.equal(await listener.wait(5000), true, 'a long-poll on a room alice is in wakes');
    assert.equal(queries, 1);
  } finally {
    listener.close();
  }
});
