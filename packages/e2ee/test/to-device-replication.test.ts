import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { silentLogger, type JsonValue } from '@hs/core';
import { rejectsWith, startStreamWriterProcess, WRITER } from '@hs/replication/testing';
import { StreamWriter } from '@hs/storage';
import { createTestDatabase } from '@hs/storage/testing';
import { getToDeviceMessages, LocalToDeviceSender, registerToDeviceReplicationEndpoints, ReplicatedToDeviceSender, type SendToDeviceRequest } from '../src/index.ts';

const ALICE = '@alice:test';
const BOB = '@bob:test';

const db = await createTestDatabase();
const stream = await StreamWriter.open(db.sql, 'to_device', WRITER, silentLogger);
const proc = await startStreamWriterProcess(db, stream, (server, notify) =>
  registerToDeviceReplicationEndpoints(server, new LocalToDeviceSender({ sql: db.sql, writer: stream, notify })),
);
const { notified } = proc;
after(() => proc.close());

function replicated(secret?: string) {
  const recorder = proc.replicatedOptions(secret);
  return { recorder, sender: new ReplicatedToDeviceSender(recorder) };
}

function request(txnId: string, deliveries: SendToDeviceRequest['deliveries']): SendToDeviceRequest {
  return { sender: ALICE, senderDevice: 'ADEV', txnId, type: 'm.room_key_request', deliveries };
}

async function inbox(userId: string, deviceId: string) {
  return (await getToDeviceMessages(db.sql, userId, deviceId, 0, Number.MAX_SAFE_INTEGER, 100)).events;
}

test('messages land on the writer, which notifies; the worker waits for the position', async () => {
  const { recorder, sender } = replicated();
  const before = notified.length;
  const position = await sender.send(
    request('t1', [
      { userId: BOB, deviceId: 'B1', content: { n: 1 } },
      { userId: BOB, deviceId: 'B2', content: { n: 2 } },
      { userId: ALICE, deviceId: 'A2', content: { n: 3 } },
    ]),
  );
  assert.equal(typeof position, 'number');
  assert.deepEqual(await inbox(BOB, 'B1'), [{ type: 'm.room_key_request', sender: ALICE, content: { n: 1 } }]);
  assert.deepEqual(await inbox(BOB, 'B2'), [{ type: 'm.room_key_request', sender: ALICE, content: { n: 2 } }]);
  assert.deepEqual(await inbox(ALICE, 'A2'), [{ type: 'm.room_key_request', sender: ALICE, content: { n: 3 } }]);
  assert.deepEqual(notified.slice(before), [{ stream: 'to_device', position, users: [BOB, ALICE] }]);
  assert.deepEqual(recorder.waits, [{ stream: 'to_device', instance: WRITER, position }]);

  // The client retrying its own transaction (a new replication call) stores nothing more.
  assert.equal(await sender.send(request('t1', [{ userId: BOB, deviceId: 'B1', content: { n: 1 } }])), null);
  assert.equal((await inbox(BOB, 'B1')).length, 1);
  assert.equal(notified.length, before + 1);
  assert.equal(recorder.waits.length, 1);
});

test('a request with nothing to deliver is remembered but takes no position', async () => {
  const { recorder, sender } = replicated();
  const before = notified.length;
  assert.equal(await sender.send(request('empty', [])), null);
  const [row] = await db.sql<{ stream_id: number | null }[]>`SELECT stream_id FROM device_inbox_txns WHERE user_id = ${ALICE} AND txn_id = 'empty'`;
  assert.deepEqual(row, { stream_id: null });
  assert.equal(await sender.send(request('empty', [{ userId: BOB, deviceId: 'B3', content: {} }])), null);
  assert.deepEqual(await inbox(BOB, 'B3'), []);
  assert.equal(notified.length, before);
  assert.deepEqual(recorder.waits, []);
});

test('malformed bodies are 400 M_BAD_JSON on the writer and write nothing', async () => {
  const client = proc.client();
  const before = notified.length;
  const good = { sender: ALICE, senderDevice: 'ADEV', txnId: 'bad', type: 'm.x', deliveries: [{ userId: BOB, deviceId: 'B9', content: {} }] };
  const bad: JsonValue[] = [
    [good],
    { ...good, sender: 'alice' },
    { ...good, senderDevice: null },
    { ...good, txnId: 5 },
    { ...good, type: 'm.\u0000' },
    { ...good, deliveries: {} },
    { ...good, deliveries: ['B9'] },
    { ...good, deliveries: [{ userId: BOB, deviceId: 'B9', content: 'hi' }] },
    { ...good, deliveries: [{ userId: BOB, content: {} }] },
  ];
  for (const body of bad) await rejectsWith(client.call(WRITER, 'to_device_send', [], body), 400, 'M_BAD_JSON');
  assert.equal(notified.length, before);
  assert.deepEqual(await inbox(BOB, 'B9'), []);
});

test('errors reach the caller unchanged; a wrong secret is refused with 401', async () => {
  const { recorder, sender } = replicated();
  await rejectsWith(sender.send({ ...request('x1', []), sender: 'nobody' }), 400, 'M_BAD_JSON');
  const wrong = replicated('wrong');
  await rejectsWith(wrong.sender.send(request('x2', [{ userId: BOB, deviceId: 'B8', content: {} }])), 401, 'M_UNAUTHORIZED');
  assert.deepEqual(await inbox(BOB, 'B8'), []);
  assert.deepEqual([...recorder.waits, ...wrong.recorder.waits], []);
});

test('a retried call with the same transaction ID writes once', async () => {
  const client = proc.client();
  const before = notified.length;
  const body = { sender: ALICE, senderDevice: 'ADEV', txnId: 'r1', type: 'm.x', deliveries: [{ userId: BOB, deviceId: 'B7', content: {} }] };
  const a = await client.call(WRITER, 'to_device_send', [], body, { txnId: 'retry-1' });
  const b = await client.call(WRITER, 'to_device_send', [], body, { txnId: 'retry-1' });
  // The stored answer, not the "already seen" null a second run would give.
  assert.equal(typeof (a as { position: unknown }).position, 'number');
  assert.deepEqual(b, a);
  assert.equal(notified.length, before + 1);
  assert.equal((await inbox(BOB, 'B7')).length, 1);
});
