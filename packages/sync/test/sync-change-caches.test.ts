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
  const caches = new SyncChangeCaches({ events: 0, accountData: 0, receipts: 0 });
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
  // Computed too (not moving the tokens on): the timeline filter and limits applied in memory as in SQL.
  const narrow = compileFilter({ room: { timeline: { limit: 3, not_senders: [cat.userId], types: ['m.room.*'], not_types: ['m.room.member'], unread_thread_notifications: true } } });
  const since = new Map<string, string>();
  for (const u of users) since.set(u.userId, (await h.sync(u)).json.next_batch);

  // Compare what each user would get now, then move their token on.
  const compare = async (step: string, who: readonly TestUser[] = users) => {
    const token = h.currentToken();
    now = Date.now();
    for (const u of who) {
      const requester = { userId: u.userId, deviceId: u.deviceId, isGuest: false, isAdmin: false };
      let next: string | undefined;
      for (const [name, fil] of [['default', filter], ['narrow', narrow]] as const) {
        const req = { requester, filter: fil, fullState: false, useStateAfter: false, since: decodeSyncToken(since.get(u.userId) as string) };
        const a = await cached.compute(req, token);
        const b = await plain.compute(req, token);
        assert.deepEqual(a.body, b.body, `${step}: ${u.userId} (${name} filter)`);
        assert.equal(a.empty, b.empty, `${step}: ${u.userId} empty (${name} filter)`);
        next ??= a.body.next_batch as string;
      }
      since.set(u.userId, next as string);
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

  // The room timeline cache: more than a timeline holds, state changes inside and before the
  // returned timeline, and a redaction of an event already read into memory.
  for (let i = 0; i < 14; i++) await h.send(i % 2 ? ben : ann, r0, `burst ${i}`);
  await compare('a limited timeline');
  assert.equal((await h.call(ann, 'PUT', `${V3}/rooms/${enc(r0)}/state/m.room.name/`, { name: 'renamed' })).status, 200);
  await h.send(ann, r0, 'after the rename');
  await compare('a state change in the timeline');
  assert.equal((await h.call(ann, 'PUT', `${V3}/rooms/${enc(r0)}/state/m.room.topic/`, { topic: 'gap' })).status, 200);
  for (let i = 0; i < 12; i++) await h.send(ben, r0, `after the topic ${i}`);
  await compare('a state change in the gap of a limited timeline');
  const doomed = await h.send(ben, r0, 'to be redacted');
  await compare('ben reads his message before it is redacted (ann has not)', [ben]);
  assert.equal((await h.call(ben, 'PUT', `${V3}/rooms/${enc(r0)}/send/m.room.redaction/t-redact`, { redacts: doomed })).status, 200);
  await compare('a redaction of an event held in memory');
  for (let round = 0; round < 3; round++) {
    for (const [u, r] of [[ann, round % 2 ? r1 : r0], [ben, r0], [dan, r1]] as const) await h.send(u, r, `round ${round}`);
    await compare(`steady chat, round ${round}`);
  }
  // Notification counts moved forward in memory: a receipt, a thread, a mention.
  const last = await h.send(ann, r0, 'read up to here');
  assert.equal((await h.call(ben, 'POST', `${V3}/rooms/${enc(r0)}/receipt/m.read/${enc(last)}`, {})).status, 200);
  await compare('a receipt');
  const root = await h.send(ann, r0, 'thread root');
  assert.equal((await h.call(ann, 'PUT', `${V3}/rooms/${enc(r0)}/send/m.room.message/t-thread`, { msgtype: 'm.text', body: 'reply', 'm.relates_to': { rel_type: 'm.thread', event_id: root } })).status, 200);
  assert.equal((await h.call(ann, 'PUT', `${V3}/rooms/${enc(r0)}/send/m.room.message/t-mention`, { msgtype: 'm.text', body: 'ben!', 'm.mentions': { user_ids: [ben.userId] } })).status, 200);
  await compare('a thread and a mention');
  await compare('nothing new, counts unchanged');
  const { hits, misses } = cached.timelineCache?.stats ?? { hits: 0, misses: 0 };
  assert.ok(hits >= 10, `the timeline cache answered rooms (${hits} hits, ${misses} misses)`);
  const counts = cached.unreadCache?.stats ?? { hits: 0, misses: 0 };
  assert.ok(counts.hits >= 5, `notification counts were moved forward in memory (${counts.hits} hits, ${counts.misses} misses)`);
});
