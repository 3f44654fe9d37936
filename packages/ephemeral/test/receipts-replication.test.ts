import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { silentLogger, type JsonValue } from '@hs/core';
import type { TestApp } from '@hs/http/testing';
import { recordWaits, rejectsWith, startStreamWriterProcess, WRITER, writerClient } from '@hs/replication/testing';
import { StreamWriter } from '@hs/storage';
import { getReceiptsForRooms, LocalReceiptsWriter, registerReceiptsReplicationEndpoints, ReplicatedReceiptsWriter, type NewReceipt } from '../src/index.ts';
import { enc, ephemeralDatabase, FakeWorld, startWorkerApp } from './support.ts';

const ROOM = '!room:test';
const ALICE = '@alice:test';
const EV1 = '$one';
const EV2 = '$two';

const db = await ephemeralDatabase();
const stream = await StreamWriter.open(db.sql, 'receipts', WRITER, silentLogger);
const proc = await startStreamWriterProcess(db, stream, (server, notify) =>
  registerReceiptsReplicationEndpoints(server, new LocalReceiptsWriter({ sql: db.sql, stream, notify })),
);
const { notified } = proc;
after(() => proc.close());

const receipt = (eventId: string, ordering: number | null, extra: Partial<NewReceipt> = {}): NewReceipt => ({
  roomId: ROOM,
  receiptType: 'm.read',
  userId: ALICE,
  eventId,
  eventStreamOrdering: ordering,
  data: { ts: 1234 },
  ...extra,
});

test('a forwarded receipt lands on the writer, which notifies; the worker waits for its position', async () => {
  const checked = recordWaits(async ({ position }) => {
    // Read-your-writes: by the time waitFor runs, the row is committed at that position.
    const got = await getReceiptsForRooms(db.sql, [ROOM], position - 1, position, ALICE);
    assert.deepEqual(got.get(ROOM), { [EV1]: { 'm.read': { [ALICE]: { ts: 1234 } } } });
  });
  const writer = new ReplicatedReceiptsWriter({ client: writerClient(() => proc.port), instance: WRITER, waitFor: checked.waitFor });
  const before = notified.length;
  const p1 = await writer.insert(receipt(EV1, 10));
  assert.equal(typeof p1, 'number');
  assert.deepEqual(notified.slice(before), [{ stream: 'receipts', position: p1, rooms: [ROOM], users: [ALICE] }]);
  assert.deepEqual(checked.waits, [{ stream: 'receipts', instance: WRITER, position: p1 }]);

  // A threaded receipt keeps its thread; an older event does not move the receipt back (null, no wait).
  const recorder = recordWaits();
  const other = new ReplicatedReceiptsWriter({ client: writerClient(() => proc.port), instance: WRITER, waitFor: recorder.waitFor });
  const p2 = await other.insert(receipt(EV2, 20, { threadId: 'main' }));
  assert.ok(p2 !== null && p1 !== null && p2 > p1);
  const [row] = await db.sql<{ thread_id: string | null; data: { thread_id?: string } }[]>`
    SELECT thread_id, data FROM receipts_linearized WHERE stream_id = ${p2}`;
  assert.equal(row?.thread_id, 'main');
  assert.equal(row?.data.thread_id, 'main');
  assert.equal(await other.insert(receipt(EV1, 5)), null);
  assert.deepEqual(recorder.waits, [{ stream: 'receipts', instance: WRITER, position: p2 }]);
});

test('malformed bodies are 400 M_BAD_JSON on the writer and write nothing', async () => {
  const client = writerClient(() => proc.port);
  const before = notified.length;
  const good = { room_id: ROOM, receipt_type: 'm.read', user_id: ALICE, event_id: EV2, event_stream_ordering: 99, data: {} };
  const bad: JsonValue[] = [
    [],
    'receipt',
    { ...good, room_id: 'room' },
    { ...good, user_id: 'alice' },
    { ...good, event_id: 'two' },
    { ...good, receipt_type: 7 },
    { ...good, receipt_type: '' },
    { ...good, event_stream_ordering: -1 },
    { ...good, event_stream_ordering: 1.5 },
    (({ event_stream_ordering: _, ...rest }) => rest)(good),
    { ...good, data: [] },
    { ...good, thread_id: 5 },
  ];
  for (const body of bad) await rejectsWith(client.call(WRITER, 'receipts_insert', [], body), 400, 'M_BAD_JSON');
  assert.equal(notified.length, before);
});

test('a wrong replication secret is refused with 401 and nothing is written', async () => {
  const recorder = recordWaits();
  const writer = new ReplicatedReceiptsWriter({ client: writerClient(() => proc.port, 'wrong'), instance: WRITER, waitFor: recorder.waitFor });
  const before = notified.length;
  await rejectsWith(writer.insert(receipt('$three', 1000)), 401, 'M_UNAUTHORIZED');
  assert.equal(notified.length, before);
  assert.deepEqual(recorder.waits, []);
});

test('a retried call with the same transaction ID writes once', async () => {
  const client = writerClient(() => proc.port);
  const before = notified.length;
  const body = { room_id: '!retry:test', receipt_type: 'm.read', user_id: ALICE, event_id: '$r1', event_stream_ordering: 1, data: { ts: 1 } };
  const a = await client.call(WRITER, 'receipts_insert', [], body, { txnId: 'receipt-retry' });
  const b = await client.call(WRITER, 'receipts_insert', [], { ...body, event_id: '$r2', event_stream_ordering: 2 }, { txnId: 'receipt-retry' });
  assert.deepEqual(b, a);
  assert.equal(notified.length, before + 1);
  const rows = await db.sql`SELECT event_id FROM receipts_linearized WHERE room_id = '!retry:test'`;
  assert.deepEqual(rows.map((r) => r.event_id), ['$r1']);
});

test('a worker serves POST /receipt and /read_markers by forwarding to the writer', async () => {
  const world = new FakeWorld();
  world.join(ROOM, ALICE);
  world.event('$w1', { roomId: ROOM, ordering: 500, threads: [] });
  world.event('$w2', { roomId: ROOM, ordering: 501, threads: [] });
  const client = writerClient(() => proc.port);
  const recorder = recordWaits();
  const opts = { client, instance: WRITER, waitFor: recorder.waitFor };
  let app: TestApp | undefined;
  try {
    app = await startWorkerApp(db, world, opts);
    const post = (path: string, body: unknown) =>
      fetch(app!.baseUrl + path, { method: 'POST', headers: { authorization: `Bearer ${ALICE}` }, body: JSON.stringify(body) });
    const res = await post(`/_matrix/client/v3/rooms/${enc(ROOM)}/receipt/m.read/${enc('$w1')}`, {});
    assert.equal(res.status, 200);
    const res2 = await post(`/_matrix/client/v3/rooms/${enc(ROOM)}/read_markers`, { 'm.read.private': '$w2', 'm.fully_read': '$w2' });
    assert.equal(res2.status, 200);
    const rows = await db.sql<{ receipt_type: string; event_id: string }[]>`
      SELECT receipt_type, event_id FROM receipts_linearized WHERE room_id = ${ROOM} AND event_id IN ('$w1', '$w2') ORDER BY stream_id`;
    assert.deepEqual(rows.map((r) => [r.receipt_type, r.event_id]), [['m.read', '$w1'], ['m.read.private', '$w2']]);
    assert.equal(recorder.waits.length, 2);
    assert.deepEqual(world.roomAccountData.get(`${ALICE}|${ROOM}|m.fully_read`), { event_id: '$w2' });
  } finally {
    await app?.close();
  }
});
