/**
 * The per-process cache of devices' key counts: served from memory until a change on this process
 * (announced to listeners) or elsewhere (`forget`) drops it, and a load that raced a change is not kept.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase } from '@hs/storage/testing';
import { KeyCountsCache } from '../src/key-counts-cache.ts';

const USER = '@a:test';
const addKey = (sql: Awaited<ReturnType<typeof createTestDatabase>>['sql'], id: string) =>
  sql`INSERT INTO e2e_one_time_keys (user_id, device_id, algorithm, key_id, key_json) VALUES (${USER}, 'D', 'signed_curve25519', ${id}, '{}')`;

test('key counts: cached, dropped by local and remote changes, never refilled by a load that raced a change', async () => {
  const db = await createTestDatabase();
  try {
    const cache = new KeyCountsCache(db.sql);
    const announced: string[][] = [];
    cache.onChanged((keys) => announced.push([...keys]));
    assert.deepEqual((await cache.get(USER, 'D')).oneTimeKeys, { signed_curve25519: 0 });
    await addKey(db.sql, 'k1');
    assert.deepEqual((await cache.get(USER, 'D')).oneTimeKeys, { signed_curve25519: 0 }, 'served from memory');
    cache.changed(USER, ['D']);
    assert.deepEqual(announced, [[`${USER}\u0000D`]], 'a local change is announced for the other processes');
    assert.deepEqual((await cache.get(USER, 'D')).oneTimeKeys, { signed_curve25519: 1 });
    await addKey(db.sql, 'k2');
    cache.forget([`${USER}\u0000D`]);
    assert.equal(announced.length, 1, 'a remote change is not announced again');
    assert.deepEqual((await cache.get(USER, 'D')).oneTimeKeys, { signed_curve25519: 2 });

    // A change lands while a load is in flight: that load's (possibly old) answer is not kept.
    cache.forget([`${USER}\u0000D`]);
    const racing = cache.get(USER, 'D');
    cache.forget([`${USER}\u0000D`]);
    await addKey(db.sql, 'k3');
    await racing;
    assert.deepEqual((await cache.get(USER, 'D')).oneTimeKeys, { signed_curve25519: 3 });
  } finally {
    await db.close();
  }
});
