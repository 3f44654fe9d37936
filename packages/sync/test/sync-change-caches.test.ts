/**
 * The in-memory change caches /sync consults: their own rules (floor, eviction), and that an incremental
 * sync answered with them is exactly the one answered from Postgres alone, through joins, leaves,
 * invites, ignores and messages in many rooms.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { decodeSyncToken } from '@hs/core';
import { SyncComputer } from '../src/compute-sync.ts';
import { compileFilter } from '../src/filter.ts';
import { StreamChangeCache, SyncChangeCaches } from '../src/stream-change-cache.ts';
import { startHarness, V3, type Harness, type TestUser } from './harness.ts';

test('a change cache knows changes above its floor, and forgets by raising the floor', () => {
  const c = new StreamChangeCache(10, 3);
  assert.equal(c.changedSince('!a', 9), undefined, 'below the floor it does not know');
  assert.equal(c.changedSince('!a', 10), false);
  c.record('!a', 12);
  c.record('!a', 11); // out of order: the latest stays
  assert.equal(c.lastChange('!a'), 12);
  assert.equal(c.changedSince('!a', 11), true);
  assert.equal(c.changedSince('!a', 12), false);
  c.record('!b', 13);
  c.record('!c', 14);
  c.record('!d', 15); // evicts !a (changed longest ago): the floor rises to 12
  assert.equal(c.floor, 12);
  assert.equal(c.covers(11), false);
  assert.equal(c.changedSince('!a', 12), false, 'forgotten, but known unchanged since the new floor');
  assert.equal(c.changedSince('!d', 12), true);
  c.record('!e', 5);
  assert.equal(c.lastChange('!e'), undefined, 'changes at or below the floor are not recorded');
});

test('sync caches route events and account data changes to rooms and users', () => {
  const caches = new SyncChangeCaches({ events: 0, accountData: 0 });
  caches.apply({ stream: 'events', position: 5, rooms: ['!r'], users: ['@u:x'] });
  caches.apply({ stream: 'account_data', position: 3, users: ['@v:x'] });
  caches.apply({ stream: 'receipts', position: 9, rooms: ['!r'] });
  assert.equal(caches.roomEvents.lastChange('!r'), 5);
  assert.equal(caches.memberships.lastChange('@u:x'), 5);
  assert.equal(caches.roomMembers.lastChange('!r'), 5, 'a membership event marks its room');
  caches.apply({ stream: 'events', position: 6, rooms: ['!s'] });
  assert.equal(caches.roomEvents.lastChange('!s'), 6);
  assert.equal(caches.roomMembers.lastChange('!s'), undefined, 'other events do not');
  assert.equal(caches.accountData.lastChange('@v:x'), 3);
  assert.equal(caches.accountData.lastChange('@u:x'), undefined);
});

let h: Harness;
const enc = encodeURIComponent;

test.before(async () => {
  h = await startHarness();
});
test.after(async () => {
  await h.close();
});

test('incremental syncs are the same with the caches as from Postgres alone', async () => {
  const users: TestUser[] = [];
  for (const name of ['ann', 'ben', 'cat', 'dan']) users.push(await h.register(name));
  const [ann, ben, cat, dan] = users as [TestUser, TestUser, TestUser, TestUser];
  const rooms: string[] = [];
  for (let i = 0; i < 4; i++) rooms.push(await h.createRoom(ann, { preset: 'public_chat', name: `r${i}` }));
  // One clock for both, so `unsigned.age` matches.
  let now = Date.now();
  const cached = new SyncComputer({ ...h.syncDeps, clock: () => now });
  const plain = new SyncComputer({ ...h.syncDeps, changes: undefined, clock: () => now });
  const filter = compileFilter({ room: { timeline: { limit: 10 } } });
  const since = new Map<string, string>();
  for (const u of users) since.set(u.userId, (await h.sync(u)).json.next_batch);

  // Compare what each user would get now, then move their token on.
  const compare = async (step: string) => {
    const token = h.currentToken();
    now = Date.now();
    for (const u of users) {
      const requester = { userId: u.userId, deviceId: u.deviceId, isGuest: false, isAdmin: false };
      const req = { requester, filter, fullState: false, useStateAfter: false, since: decodeSyncToken(since.get(u.userId) as string) };
      const a = await cached.compute(req, token);
      const b = await plain.compute(req, token);
      assert.deepEqual(a.body, b.body, `${step}: ${u.userId}`);
      assert.equal(a.empty, b.empty, `${step}: ${u.userId} empty`);
      since.set(u.userId, a.body.next_batch as string);
    }
  };

  const [r0, r1, r2, r3] = rooms as [string, string, string, string];
  await h.send(ann, r0, 'hello r0');
  await compare('a message nobody else sees');
  for (const u of [ben, cat]) assert.equal((await h.call(u, 'POST', `${V3}/join/${enc(r0)}`, {})).status, 200);
  await h.send(ben, r0, 'ben says hi');
  await compare('two joins and a message');
  assert.equal((await h.call(ann, 'POST', `${V3}/rooms/${enc(r1)}/invite`, { user_id: dan.userId })).status, 200);
  await h.send(ann, r1, 'for dan');
  await compare('an invite');
  assert.equal((await h.call(dan, 'POST', `${V3}/join/${enc(r1)}`, {})).status, 200);
  assert.equal((await h.call(cat, 'POST', `${V3}/rooms/${enc(r0)}/leave`, {})).status, 200);
  await h.send(ann, r0, 'after cat left');
  await compare('a join and a leave');
  assert.equal((await h.call(ben, 'PUT', `${V3}/user/${enc(ben.userId)}/account_data/m.ignored_user_list`, { ignored_users: { [ann.userId]: {} } })).status, 200);
  await h.send(ann, r0, 'ben ignores this');
  await h.send(ben, r0, 'ben still talks');
  await compare('an ignore list');
  for (const r of [r2, r3]) await h.send(ann, r, `in ${r}`);
  assert.equal((await h.call(dan, 'POST', `${V3}/join/${enc(r2)}`, {})).status, 200);
  await compare('messages in rooms only ann is in, then a join');
  await compare('nothing new');
});
