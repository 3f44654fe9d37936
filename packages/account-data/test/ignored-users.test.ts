import test from 'node:test';
import assert from 'node:assert/strict';
import { notifyNobody } from '@hs/core';
import { StreamWriter } from '@hs/storage';
import { silentLogger } from '@hs/core';
import { getIgnoredUsers, getIgnoredUsersOf, LocalAccountDataWriter } from '../src/account-data-store.ts';
import { accountDataDatabase } from './support.ts';

test('ignored users of many users in one query match the per-user reader', async () => {
  const db = await accountDataDatabase();
  try {
    const stream = await StreamWriter.open(db.sql, 'account_data', 'main', silentLogger);
    const writer = new LocalAccountDataWriter({ sql: db.sql, stream, notify: notifyNobody });
    await writer.setGlobal('@a:x', 'm.ignored_user_list', { ignored_users: { '@spam:x': {}, '@troll:y': {} } });
    await writer.setGlobal('@b:x', 'm.ignored_user_list', { ignored_users: {} });
    await writer.setGlobal('@c:x', 'm.ignored_user_list', { ignored_users: 'not an object' });
    await writer.setGlobal('@d:x', 'm.other', { ignored_users: { '@z:x': {} } });
    const batch = await getIgnoredUsersOf(db.sql, ['@a:x', '@b:x', '@c:x', '@d:x', '@nobody:x']);
    assert.deepEqual([...(batch.get('@a:x') ?? [])].sort(), ['@spam:x', '@troll:y']);
    assert.deepEqual([...(batch.get('@b:x') ?? [])], []);
    assert.equal(batch.has('@c:x'), false);
    assert.equal(batch.has('@d:x'), false);
    for (const u of ['@a:x', '@b:x', '@c:x', '@d:x']) {
      assert.deepEqual([...(batch.get(u) ?? [])].sort(), (await getIgnoredUsers(db.sql, u)).sort());
    }
    assert.equal((await getIgnoredUsersOf(db.sql, [])).size, 0);
  } finally {
    await db.close();
  }
});
