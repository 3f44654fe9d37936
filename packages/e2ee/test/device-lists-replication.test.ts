import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { silentLogger, type JsonValue } from '@hs/core';
import { rejectsWith, startStreamWriterProcess, WRITER } from '@hs/replication/testing';
import { StreamWriter } from '@hs/storage';
import { createTestDatabase } from '@hs/storage/testing';
import {
  getDeviceListChanges,
  getUserSignatureChanges,
  LocalDeviceListUpdater,
  registerDeviceListsReplicationEndpoints,
  ReplicatedDeviceListUpdater,
} from '../src/index.ts';

const ALICE = '@alice:test';
const BOB = '@bob:test';
const CAROL = '@carol:test';
const ALL = Number.MAX_SAFE_INTEGER;

const db = await createTestDatabase();
const stream = await StreamWriter.open(db.sql, 'device_lists', WRITER, silentLogger);
const proc = await startStreamWriterProcess(db, stream, (server, notify) =>
  registerDeviceListsReplicationEndpoints(server, new LocalDeviceListUpdater({ sql: db.sql, writer: stream, notify })),
);
const { notified } = proc;
after(() => proc.close());

function replicated(secret?: string) {
  const recorder = proc.replicatedOptions(secret);
  return { recorder, updater: new ReplicatedDeviceListUpdater(recorder) };
}

test('changes land on the writer, which notifies; the worker waits for the position', async () => {
  const { recorder, updater } = replicated();
  const before = notified.length;
  const p1 = await updater.markDevicesChanged(ALICE, ['A1', 'A2', 'A1']);
  assert.equal(typeof p1, 'number');
  assert.deepEqual(await getDeviceListChanges(db.sql, undefined, (p1 as number) - 1, p1 as number), [ALICE]);
  const rows = await db.sql<{ device_id: string }[]>`SELECT device_id FROM device_lists_stream WHERE stream_id = ${p1 as number} ORDER BY device_id`;
  assert.deepEqual(rows.map((r) => r.device_id), ['A1', 'A2']);
  const p2 = await updater.markUserSignaturesChanged(ALICE, [BOB, CAROL]);
  assert.ok(p2 !== undefined && p2 > (p1 as number));
  assert.deepEqual(await getUserSignatureChanges(db.sql, ALICE, 0, ALL), [BOB, CAROL]);
  assert.deepEqual(notified.slice(before), [
    { stream: 'device_lists', position: p1, users: [ALICE] },
    { stream: 'device_lists', position: p2, users: [ALICE] },
  ]);
  assert.deepEqual(recorder.waits, [
    { stream: 'device_lists', instance: WRITER, position: p1 },
    { stream: 'device_lists', instance: WRITER, position: p2 },
  ]);
});

test('nothing to record answers undefined and waits for nothing', async () => {
  const { recorder, updater } = replicated();
  const before = notified.length;
  assert.equal(await updater.markDevicesChanged(BOB, []), undefined);
  assert.equal(await updater.markUserSignaturesChanged(BOB, []), undefined);
  assert.equal(notified.length, before);
  assert.deepEqual(recorder.waits, []);
});

test('malformed bodies are 400 M_BAD_JSON on the writer and write nothing', async () => {
  const client = proc.client();
  const before = notified.length;
  const bad: [string, JsonValue][] = [
    ['device_lists_mark_devices_changed', 'x'],
    ['device_lists_mark_devices_changed', { userId: BOB }],
    ['device_lists_mark_devices_changed', { userId: 'bob', deviceIds: ['B1'] }],
    ['device_lists_mark_devices_changed', { userId: BOB, deviceIds: 'B1' }],
    ['device_lists_mark_devices_changed', { userId: BOB, deviceIds: ['B\u0000'] }],
    ['device_lists_mark_user_signatures_changed', { fromUserId: BOB, targetUserIds: ['carol'] }],
    ['device_lists_mark_user_signatures_changed', { targetUserIds: [CAROL] }],
  ];
  for (const [name, body] of bad) await rejectsWith(client.call(WRITER, name, [], body), 400, 'M_BAD_JSON');
  assert.equal(notified.length, before);
  assert.deepEqual(await getDeviceListChanges(db.sql, [BOB], 0, ALL), []);
});

test('errors reach the caller unchanged; a wrong secret is refused with 401', async () => {
  const { recorder, updater } = replicated();
  await rejectsWith(updater.markDevicesChanged('nobody', ['D']), 400, 'M_BAD_JSON');
  const wrong = replicated('wrong');
  await rejectsWith(wrong.updater.markDevicesChanged(BOB, ['B1']), 401, 'M_UNAUTHORIZED');
  assert.deepEqual(await getDeviceListChanges(db.sql, [BOB], 0, ALL), []);
  assert.deepEqual([...recorder.waits, ...wrong.recorder.waits], []);
});

test('a retried call with the same transaction ID writes once', async () => {
  const client = proc.client();
  const before = notified.length;
  const body = { userId: CAROL, deviceIds: ['C1'] };
  const a = await client.call(WRITER, 'device_lists_mark_devices_changed', [], body, { txnId: 'retry-1' });
  const b = await client.call(WRITER, 'device_lists_mark_devices_changed', [], body, { txnId: 'retry-1' });
  assert.deepEqual(b, a);
  assert.equal(notified.length, before + 1);
  const [row] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM device_lists_stream WHERE user_id = ${CAROL}`;
  assert.equal(row?.n, 1);
});
