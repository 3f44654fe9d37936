/** Notification counts against read receipts (threaded and not), and the cleanup of read push actions. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { deleteReadPushActions, getPushActionsForEvent, getUnreadCounts, getUserPushActions, streamOrderingAtTime, syncUnreadCounts } from '../src/index.ts';
import { startRoomsEnv, u, type RoomsEnv } from './rooms-support.ts';

let env: RoomsEnv;
const alice = u('alice');
const bob = u('bob');
const carol = u('carol');

before(async () => {
  env = await startRoomsEnv();
});
after(async () => {
  await env?.close();
  assert.deepEqual(env.hookErrors, []);
});

async function groupRoom(): Promise<string> {
  const roomId = (await env.rooms.createRoom(alice, { preset: 'public_chat', room_version: '11' })).roomId;
  await env.join(roomId, bob);
  await env.join(roomId, carol);
  return roomId;
}

const text = (body: string, extra: Record<string, unknown> = {}) => ({ msgtype: 'm.text', body, ...extra }) as never;
const counts = (n: number, h: number) => ({ notification_count: n, highlight_count: h });

test('counts since the latest read receipt; private receipts count; the sender and other rooms are separate', async () => {
  const r1 = await groupRoom();
  const r2 = await groupRoom();
  const e1 = await env.send(r1, alice, text('one'));
  await env.send(r1, alice, text('two', { 'm.mentions': { user_ids: [bob] } }));
  await env.send(r2, alice, text('elsewhere'));
  await env.send(r1, bob, text('my own'));

  let c = await getUnreadCounts(env.db.sql, bob, [r1, r2, '!unknown:push.test']);
  assert.deepEqual(c.get(r1), { ...counts(2, 1), main: counts(2, 1), unread_thread_notifications: {} });
  assert.deepEqual(c.get(r2), { ...counts(1, 0), main: counts(1, 0), unread_thread_notifications: {} });
  assert.deepEqual(c.get('!unknown:push.test'), { ...counts(0, 0), main: counts(0, 0), unread_thread_notifications: {} });
  assert.equal((await getUnreadCounts(env.db.sql, alice, [r1])).get(r1)?.notification_count, 1, "alice: bob's message only");

  await env.read(bob, r1, e1);
  c = await getUnreadCounts(env.db.sql, bob, [r1, r2]);
  assert.deepEqual(c.get(r1)?.notification_count, 1);
  assert.deepEqual(c.get(r1)?.highlight_count, 1);

  const last = await env.send(r1, carol, text('three'));
  await env.read(bob, r1, last, { type: 'm.read.private' });
  c = await getUnreadCounts(env.db.sql, bob, [r1, r2]);
  assert.deepEqual(c.get(r1)?.notification_count, 0, 'a private receipt clears too');
  assert.deepEqual(c.get(r2)?.notification_count, 1, 'other rooms are untouched');
  assert.deepEqual(await getUnreadCounts(env.db.sql, bob, []), new Map());
});

test('threads: threaded receipts clear only their thread, unthreaded receipts clear everything', async () => {
  const room = await groupRoom();
  const root = await env.send(room, alice, text('root'));
  const t1 = await env.send(room, alice, text('t1', { 'm.relates_to': { rel_type: 'm.thread', event_id: root } }));
  const t2 = await env.send(room, alice, text('t2 @bob', { 'm.relates_to': { rel_type: 'm.thread', event_id: root }, 'm.mentions': { user_ids: [bob] } }));
  const main2 = await env.send(room, alice, text('main again'));

  let c = (await getUnreadCounts(env.db.sql, bob, [room])).get(room);
  assert.deepEqual(c, { ...counts(4, 1), main: counts(2, 0), unread_thread_notifications: { [root]: counts(2, 1) } });
  assert.deepEqual(syncUnreadCounts(c, false), { unread_notifications: counts(4, 1) });
  assert.deepEqual(syncUnreadCounts(c, true), { unread_notifications: counts(2, 0), unread_thread_notifications: { [root]: counts(2, 1) } });

  // Reading the main timeline to its end leaves the thread unread.
  await env.read(bob, room, main2, { threadId: 'main' });
  c = (await getUnreadCounts(env.db.sql, bob, [room])).get(room);
  assert.deepEqual(c, { ...counts(2, 1), main: counts(0, 0), unread_thread_notifications: { [root]: counts(2, 1) } });

  // A receipt in the thread clears the thread up to its event.
  await env.read(bob, room, t1, { threadId: root });
  c = (await getUnreadCounts(env.db.sql, bob, [room])).get(room);
  assert.deepEqual(c?.unread_thread_notifications, { [root]: counts(1, 1) });

  // An unthreaded receipt at t2 clears the thread too; main3 stays unread, as it is after both t2
  // and the main-timeline receipt at main2.
  const main3 = await env.send(room, carol, text('later'));
  await env.read(bob, room, t2);
  c = (await getUnreadCounts(env.db.sql, bob, [room])).get(room);
  assert.deepEqual(c, { ...counts(1, 0), main: counts(1, 0), unread_thread_notifications: {} });
  // Without the main-timeline receipt, the unthreaded one alone decides: main2 and main3 are unread.
  const fresh = await groupRoom();
  const f1 = await env.send(fresh, alice, text('f1'));
  const f2 = await env.send(fresh, alice, text('f2', { 'm.relates_to': { rel_type: 'm.thread', event_id: f1 } }));
  await env.send(fresh, alice, text('f3'));
  await env.send(fresh, alice, text('f4', { 'm.relates_to': { rel_type: 'm.thread', event_id: f1 } }));
  await env.read(bob, fresh, f2);
  assert.deepEqual((await getUnreadCounts(env.db.sql, bob, [fresh])).get(fresh), {
    ...counts(2, 0),
    main: counts(1, 0),
    unread_thread_notifications: { [f1]: counts(1, 0) },
  });
  await env.read(bob, room, main3);
  c = (await getUnreadCounts(env.db.sql, bob, [room])).get(room);
  assert.deepEqual(c?.notification_count, 0);
  assert.deepEqual(syncUnreadCounts(undefined, true), { unread_notifications: counts(0, 0), unread_thread_notifications: {} });
});

test('cleanup deletes rows every joined recipient has read, after their retention; unread rows stay', async () => {
  const room = await groupRoom();
  const dave = u('dave');
  await env.join(room, dave);
  const a = await env.send(room, alice, text('a'));
  const b = await env.send(room, alice, text('b @carol', { 'm.mentions': { user_ids: [carol] } }));
  await env.leave(room, dave);
  const c = await env.send(room, alice, text('c'));
  // dave never reads, but he left: he does not hold rows back.
  await env.read(bob, room, b);
  await env.read(carol, room, b);
  const outcomes = async (id: string) => (await env.db.sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM event_push_actions a JOIN events e ON e.room_id = a.room_id AND e.stream_ordering = a.stream_ordering
     WHERE e.event_id = ${id}`)[0]?.n;
  assert.deepEqual([await outcomes(a), await outcomes(b), await outcomes(c)], [1, 2, 1], "b: bob's notify and carol's highlight");

  // Everything is younger than a day: nothing goes.
  assert.equal(await deleteReadPushActions(env.db.sql, { readRetentionMs: 86_400_000 }), 0);
  const later = Date.now() + 1000;
  // With no read retention, read rows go — except carol's highlight, kept for its own retention; c is unread.
  // (Rows of the other tests' rooms may go too: only this room's are checked.)
  assert.ok((await deleteReadPushActions(env.db.sql, { readRetentionMs: 0, now: later, highlightRetentionMs: 86_400_000, batchSize: 2 })) >= 2);
  assert.deepEqual([await outcomes(a), await outcomes(b), await outcomes(c)], [0, 1, 1]);
  assert.equal((await getPushActionsForEvent(env.db.sql, b)).get(carol)?.highlight, true);
  assert.ok((await deleteReadPushActions(env.db.sql, { readRetentionMs: 0, highlightRetentionMs: 0, now: later })) >= 1);
  assert.deepEqual([await outcomes(b), await outcomes(c)], [0, 1]);
  // Counts are unchanged by the cleanup.
  assert.equal((await getUnreadCounts(env.db.sql, bob, [room])).get(room)?.notification_count, 1);
  // A hard age limit drops even unread rows.
  assert.ok((await deleteReadPushActions(env.db.sql, { readRetentionMs: 0, maxAgeMs: 0, now: later })) >= 1);
  assert.equal(await outcomes(c), 0);
});

test('bitmaps: members numbered past the end of a shorter bitmap read as not notified', async () => {
  const room = (await env.rooms.createRoom(alice, { preset: 'public_chat', room_version: '11' })).roomId;
  const many = Array.from({ length: 12 }, (_, i) => u(`member${i}`));
  for (const m of many) await env.join(room, m);
  await env.send(room, alice, text('everyone'));
  // Only member0 is mentioned: that outcome's bitmap is one byte, shorter than members 8+ need.
  await env.send(room, alice, text('hey', { 'm.mentions': { user_ids: [many[0]] } }));
  const first = (await getUnreadCounts(env.db.sql, many[0] as string, [room])).get(room);
  assert.equal(first?.notification_count, 2);
  assert.equal(first?.highlight_count, 1);
  for (const m of many.slice(1)) {
    const c = (await getUnreadCounts(env.db.sql, m, [room])).get(room);
    assert.deepEqual([c?.notification_count, c?.highlight_count], [2, 0], m);
  }
  const actions = await getUserPushActions(env.db.sql, many[11] as string, { order: 'oldest', limit: 10 });
  assert.equal(actions.length, 2);
  assert.ok(actions.every((a) => a.roomId === room && a.notify && !a.highlight));
  assert.deepEqual(await getUserPushActions(env.db.sql, many[11] as string, { order: 'oldest', limit: 10, after: actions[1]?.streamOrdering }), []);
});

test('streamOrderingAtTime finds the last event received by a time', async () => {
  const rows = await env.db.sql<{ stream_ordering: number; received_ts: number }[]>`SELECT stream_ordering, received_ts FROM events ORDER BY stream_ordering`;
  const mid = rows[Math.floor(rows.length / 2)] as { stream_ordering: number; received_ts: number };
  const expected = Math.max(...rows.filter((r) => Number(r.received_ts) <= Number(mid.received_ts)).map((r) => Number(r.stream_ordering)));
  assert.equal(await streamOrderingAtTime(env.db.sql, Number(mid.received_ts)), expected);
  assert.equal(await streamOrderingAtTime(env.db.sql, 0), 0);
  assert.equal(await streamOrderingAtTime(env.db.sql, Date.now() + 60_000), Number(rows.at(-1)?.stream_ordering));
});
