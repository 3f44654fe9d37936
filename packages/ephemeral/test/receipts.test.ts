import test from 'node:test';
import assert from 'node:assert/strict';
import { getReceiptsForRooms, getUserReceipts } from '../src/receipts-store.ts';
import { enc, startHarness, type Harness } from './support.ts';

const ROOM = '!room:test';
const OTHER_ROOM = '!other:test';
const ALICE = '@alice:test';
const BOB = '@bob:test';
const receiptPath = (type: string, eventId: string, room = ROOM) => `/_matrix/client/v3/rooms/${enc(room)}/receipt/${enc(type)}/${enc(eventId)}`;
const markersPath = (room = ROOM) => `/_matrix/client/v3/rooms/${enc(room)}/read_markers`;

let h: Harness;
test.before(async () => {
  h = await startHarness();
  h.world.join(ROOM, ALICE, BOB);
  // $e1..$e5 in the main timeline; $root starts a thread that $t1, $t2 are in.
  for (let i = 1; i <= 5; i++) h.world.event(`$e${i}`, { roomId: ROOM, ordering: i * 10, threads: ['main'] });
  h.world.event('$root', { roomId: ROOM, ordering: 60, threads: ['main', '$root'] });
  h.world.event('$t1', { roomId: ROOM, ordering: 70, threads: ['$root'] });
  h.world.event('$t2', { roomId: ROOM, ordering: 80, threads: ['$root'] });
  h.world.event('$secret', { roomId: ROOM, ordering: 90, threads: ['main'], hiddenFrom: [ALICE] });
  h.world.event('$o1', { roomId: OTHER_ROOM, ordering: 100, threads: ['main'] });
});
test.after(() => h.close());

const now = () => h.receiptsStream.position;

test('a read receipt is stored, notified and shaped as m.receipt content for sync', async () => {
  const from = now();
  h.changes.length = 0;
  assert.deepEqual(await h.call('POST', receiptPath('m.read', '$e2'), { as: ALICE, body: {} }), { status: 200, json: {} });
  const to = now();
  assert.ok(to > from);
  assert.deepEqual(h.changes.filter((c) => c.stream === 'receipts'), [{ stream: 'receipts', position: to, rooms: [ROOM], users: [ALICE] }]);
  const got = await getReceiptsForRooms(h.db.sql, [ROOM], from, to, BOB);
  assert.deepEqual(got, new Map([[ROOM, { $e2: { 'm.read': { [ALICE]: { ts: h.clock.t } } } }]]));
  // Outside the window: nothing.
  assert.equal((await getReceiptsForRooms(h.db.sql, [ROOM], to, to + 5, BOB)).size, 0);
  assert.equal((await getReceiptsForRooms(h.db.sql, [OTHER_ROOM], from, to, BOB)).size, 0);
});

test('receipts only move forward per (room, user, type, thread)', async () => {
  await h.call('POST', receiptPath('m.read', '$e4'), { as: BOB, body: {} });
  const pos = now();
  // An older event: accepted (200) but the receipt stays on $e4 and the stream does not move.
  assert.equal((await h.call('POST', receiptPath('m.read', '$e1'), { as: BOB, body: {} })).status, 200);
  const all = await getReceiptsForRooms(h.db.sql, [ROOM], 0, now(), BOB);
  const content = all.get(ROOM) ?? {};
  assert.ok(content.$e4?.['m.read']?.[BOB]);
  assert.equal(content.$e1, undefined);
  assert.equal((await getReceiptsForRooms(h.db.sql, [ROOM], pos, now(), BOB)).size, 0, 'no newer row');
  // The same event again does not move it either; a later one does.
  await h.call('POST', receiptPath('m.read', '$e4'), { as: BOB, body: {} });
  assert.equal((await getReceiptsForRooms(h.db.sql, [ROOM], pos, now(), BOB)).size, 0);
  await h.call('POST', receiptPath('m.read', '$e5'), { as: BOB, body: {} });
  const later = await getReceiptsForRooms(h.db.sql, [ROOM], pos, now(), BOB);
  assert.deepEqual(Object.keys(later.get(ROOM) ?? {}), ['$e5']);
});

test('threaded receipts are separate from unthreaded ones and carry thread_id', async () => {
  const from = now();
  // Unthreaded receipt far ahead does not block a main-thread or $root-thread receipt further back.
  await h.call('POST', receiptPath('m.read', '$t2'), { as: ALICE, body: {} });
  assert.equal((await h.call('POST', receiptPath('m.read', '$e3'), { as: ALICE, body: { thread_id: 'main' } })).status, 200);
  assert.equal((await h.call('POST', receiptPath('m.read', '$t1'), { as: ALICE, body: { thread_id: '$root' } })).status, 200);
  const content = (await getReceiptsForRooms(h.db.sql, [ROOM], from, now(), ALICE)).get(ROOM) ?? {};
  assert.deepEqual(content.$t2?.['m.read']?.[ALICE], { ts: h.clock.t });
  assert.deepEqual(content.$e3?.['m.read']?.[ALICE], { ts: h.clock.t, thread_id: 'main' });
  assert.deepEqual(content.$t1?.['m.read']?.[ALICE], { ts: h.clock.t, thread_id: '$root' });
  // Within a thread it is forward-only too.
  const pos = now();
  await h.call('POST', receiptPath('m.read', '$root'), { as: ALICE, body: { thread_id: '$root' } });
  assert.equal((await getReceiptsForRooms(h.db.sql, [ROOM], pos, now(), ALICE)).size, 0);
  const own = await getUserReceipts(h.db.sql, ALICE, [ROOM]);
  assert.deepEqual(
    own.map((r) => [r.receiptType, r.threadId, r.eventId]).sort(),
    [['m.read', '$root', '$t1'], ['m.read', 'main', '$e3'], ['m.read', null, '$t2']].sort(),
  );
});

test('thread_id errors are 400 M_INVALID_PARAM', async () => {
  for (const [type, body] of [
    ['m.read', { thread_id: '' }],
    ['m.read', { thread_id: 5 }],
    ['m.read', { thread_id: null }],
    ['m.read', { thread_id: 'not-an-event' }],
    ['m.fully_read', { thread_id: 'main' }],
    ['m.read', { thread_id: '$root' }], // $e1 is not in that thread
  ] as const) {
    const res = await h.call('POST', receiptPath(type, '$e1'), { as: ALICE, body });
    assert.deepEqual([res.status, res.json.errcode], [400, 'M_INVALID_PARAM'], JSON.stringify(body));
  }
  const res = await h.call('POST', receiptPath('m.read', '$t2'), { as: ALICE, body: { thread_id: 'main' } });
  assert.deepEqual([res.status, res.json.errcode], [400, 'M_INVALID_PARAM'], 'a thread event is not on the main timeline');
});

test('private receipts are shown only to their owner', async () => {
  const erin = '@erin:test';
  const from = now();
  await h.call('POST', receiptPath('m.read.private', '$e5'), { as: erin, body: {} });
  await h.call('POST', receiptPath('m.read', '$e5'), { as: erin, body: {} });
  const to = now();
  const forErin = (await getReceiptsForRooms(h.db.sql, [ROOM], from, to, erin)).get(ROOM) ?? {};
  assert.deepEqual(Object.keys(forErin.$e5 ?? {}).sort(), ['m.read', 'm.read.private']);
  const forBob = (await getReceiptsForRooms(h.db.sql, [ROOM], from, to, BOB)).get(ROOM) ?? {};
  assert.deepEqual(Object.keys(forBob.$e5 ?? {}), ['m.read']);
  // A room with only someone else's private receipt shows nothing at all to Bob.
  const from2 = now();
  await h.call('POST', receiptPath('m.read.private', '$t2'), { as: erin, body: {} });
  assert.equal((await getReceiptsForRooms(h.db.sql, [ROOM], from2, now(), BOB)).size, 0);
  assert.equal((await getReceiptsForRooms(h.db.sql, [ROOM], from2, now(), erin)).size, 1);
});

test('receipt errors: bad type, room or event ID 400; invisible event 403; unknown event accepted and ignored', async () => {
  const bad = [
    receiptPath('m.unknown', '$e1'),
    receiptPath('m.read', 'e1'),
    receiptPath('m.read', '$e1', 'nope'),
  ];
  for (const p of bad) {
    const res = await h.call('POST', p, { as: ALICE, body: {} });
    assert.deepEqual([res.status, res.json.errcode], [400, 'M_INVALID_PARAM'], p);
  }
  const hidden = await h.call('POST', receiptPath('m.read', '$secret'), { as: ALICE, body: {} });
  assert.deepEqual([hidden.status, hidden.json.errcode], [403, 'M_FORBIDDEN']);
  const pos = now();
  assert.deepEqual(await h.call('POST', receiptPath('m.read', '$nonexistent'), { as: ALICE, body: {} }), { status: 200, json: {} });
  assert.deepEqual(await h.call('POST', receiptPath('m.read', '$o1'), { as: ALICE, body: {} }), { status: 200, json: {} }, 'event of another room');
  assert.equal((await getReceiptsForRooms(h.db.sql, [ROOM, OTHER_ROOM], pos, now() + 10, ALICE)).size, 0);
  const notObject = await h.call('POST', receiptPath('m.read', '$e1'), { as: ALICE, raw: '[1]' });
  assert.equal(notObject.status, 400);
});

test('m.fully_read through /receipt moves the room account data marker forward only', async () => {
  const key = `${BOB}|${ROOM}|m.fully_read`;
  assert.equal((await h.call('POST', receiptPath('m.fully_read', '$e3'), { as: BOB, body: {} })).status, 200);
  assert.deepEqual(h.world.roomAccountData.get(key), { event_id: '$e3' });
  await h.call('POST', receiptPath('m.fully_read', '$e2'), { as: BOB, body: {} });
  assert.deepEqual(h.world.roomAccountData.get(key), { event_id: '$e3' }, 'backwards is ignored');
  await h.call('POST', receiptPath('m.fully_read', '$e5'), { as: BOB, body: {} });
  assert.deepEqual(h.world.roomAccountData.get(key), { event_id: '$e5' });
  const unknown = await h.call('POST', receiptPath('m.fully_read', '$nonexistent'), { as: BOB, body: {} });
  assert.deepEqual([unknown.status, unknown.json.errcode], [404, 'M_NOT_FOUND']);
  // It is not a receipt: nothing about it appears under m.receipt.
  const content = (await getReceiptsForRooms(h.db.sql, [ROOM], 0, now(), BOB)).get(ROOM) ?? {};
  assert.ok(Object.values(content).every((byType) => !('m.fully_read' in byType)));
});

test('POST /read_markers sets the marker and both receipts; bad values are 400', async () => {
  const FRANK = '@frank:test';
  const from = now();
  const res = await h.call('POST', markersPath(), { as: FRANK, body: { 'm.fully_read': '$root', 'm.read': '$root', 'm.read.private': '$root', 'm.other': 'x' } });
  assert.deepEqual(res, { status: 200, json: {} });
  assert.deepEqual(h.world.roomAccountData.get(`${FRANK}|${ROOM}|m.fully_read`), { event_id: '$root' });
  const content = (await getReceiptsForRooms(h.db.sql, [ROOM], from, now(), FRANK)).get(ROOM) ?? {};
  assert.deepEqual(Object.keys(content.$root ?? {}).sort(), ['m.read', 'm.read.private']);
  assert.deepEqual(await h.call('POST', markersPath(), { as: ALICE, body: {} }), { status: 200, json: {} });
  const wrongType = await h.call('POST', markersPath(), { as: ALICE, body: { 'm.read': 5 } });
  assert.deepEqual([wrongType.status, wrongType.json.errcode], [400, 'M_BAD_JSON']);
  const badId = await h.call('POST', markersPath(), { as: ALICE, body: { 'm.fully_read': 'x' } });
  assert.deepEqual([badId.status, badId.json.errcode], [400, 'M_INVALID_PARAM']);
  const unknown = await h.call('POST', markersPath(), { as: ALICE, body: { 'm.fully_read': '$nonexistent' } });
  assert.deepEqual([unknown.status, unknown.json.errcode], [404, 'M_NOT_FOUND']);
  const badRoom = await h.call('POST', markersPath('room'), { as: ALICE, body: {} });
  assert.deepEqual([badRoom.status, badRoom.json.errcode], [400, 'M_INVALID_PARAM']);
});

test('receipts bump presence activity', async () => {
  const carol = '@carol:test';
  h.world.join(ROOM, carol);
  assert.equal(h.presence.current(carol).lastActiveTs, 0);
  await h.call('POST', receiptPath('m.read', '$e1'), { as: carol, body: {} });
  assert.equal(h.presence.current(carol).lastActiveTs, h.clock.t);
});

test('concurrent receipts for one user settle on the latest event', async () => {
  const dave = '@dave:test';
  await Promise.all(['$e1', '$e5', '$e2', '$e4', '$e3'].map((e) => h.call('POST', receiptPath('m.read', e), { as: dave, body: {} })));
  const own = await getUserReceipts(h.db.sql, dave, [ROOM]);
  assert.deepEqual(own.map((r) => r.eventId), ['$e5']);
});
