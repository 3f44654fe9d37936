import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { silentLogger, type JsonValue } from '@hs/core';
import { rejectsWith, startStreamWriterProcess, WRITER } from '@hs/replication/testing';
import { StreamWriter } from '@hs/storage';
import {
  getGlobalAccountData,
  getRoomAccountData,
  getRoomTags,
  LocalAccountDataWriter,
  registerAccountDataReplicationEndpoints,
  ReplicatedAccountDataWriter,
} from '../src/index.ts';
import { accountDataDatabase } from './support.ts';

const ALICE = '@alice:test';
const ROOM = '!room:test';

const db = await accountDataDatabase();
const stream = await StreamWriter.open(db.sql, 'account_data', WRITER, silentLogger);
const proc = await startStreamWriterProcess(db, stream, (server, notify) =>
  registerAccountDataReplicationEndpoints(server, new LocalAccountDataWriter({ sql: db.sql, stream, notify })),
);
const { notified } = proc;
after(() => proc.close());

function replicated() {
  const recorder = proc.replicatedOptions();
  return { recorder, writer: new ReplicatedAccountDataWriter(recorder) };
}

test('each write lands on the writer, which notifies; the worker waits for the position', async () => {
  const { recorder, writer } = replicated();
  const seen: number[] = [];
  // Read-your-writes: by the time waitFor runs the row is committed.
  const checked = proc.replicatedOptions(undefined, async ({ position }) => {
    seen.push(position);
    assert.deepEqual(await getGlobalAccountData(db.sql, ALICE, 'm.direct'), { '@bob:test': [ROOM] });
  });
  const first = new ReplicatedAccountDataWriter(checked);
  const before = notified.length;

  const p1 = await first.setGlobal(ALICE, 'm.direct', { '@bob:test': [ROOM] });
  const p2 = await writer.setRoom(ALICE, ROOM, 'org.example.fav', { on: true });
  const p3 = await writer.addTag(ALICE, ROOM, 'm.favourite', { order: 0.5 });
  const p4 = await writer.addTag(ALICE, ROOM, 'u.work', {});
  const p5 = await writer.removeTag(ALICE, ROOM, 'u.work');

  assert.deepEqual(seen, [p1]);
  assert.ok(p1 < p2 && p2 < p3 && p3 < p4 && p4 < p5, 'positions increase');
  assert.deepEqual(await getRoomAccountData(db.sql, ALICE, ROOM, 'org.example.fav'), { on: true });
  assert.deepEqual(await getRoomTags(db.sql, ALICE, ROOM), { 'm.favourite': { order: 0.5 } });
  assert.deepEqual(
    notified.slice(before),
    [p1, p2, p3, p4, p5].map((position) => ({ stream: 'account_data', position, users: [ALICE] })),
  );
  assert.deepEqual(checked.waits, [{ stream: 'account_data', instance: WRITER, position: p1 }]);
  assert.deepEqual(
    recorder.waits,
    [p2, p3, p4, p5].map((position) => ({ stream: 'account_data', instance: WRITER, position })),
  );
});

test('malformed bodies are 400 M_BAD_JSON on the writer and write nothing', async () => {
  const client = proc.client();
  const before = notified.length;
  const bad: [string, JsonValue][] = [
    ['account_data_set_global', []],
    ['account_data_set_global', { userId: ALICE, type: 'm.x' }],
    ['account_data_set_global', { userId: 'alice', type: 'm.x', content: {} }],
    ['account_data_set_global', { userId: ALICE, type: 7, content: {} }],
    ['account_data_set_global', { userId: ALICE, type: 'm.\u0000', content: {} }],
    ['account_data_set_room', { userId: ALICE, roomId: 'room', type: 'm.x', content: {} }],
    ['account_data_add_tag', { userId: ALICE, roomId: ROOM, tag: 'u.a', content: [] }],
    ['account_data_remove_tag', { userId: ALICE, roomId: ROOM }],
  ];
  for (const [name, body] of bad) await rejectsWith(client.call(WRITER, name, [], body), 400, 'M_BAD_JSON');
  assert.equal(notified.length, before);
});

test('errors from the writer reach the caller unchanged, and nothing is awaited', async () => {
  const { recorder, writer } = replicated();
  await rejectsWith(writer.setGlobal('not-a-user', 'm.x', {}), 400, 'M_BAD_JSON');
  await rejectsWith(writer.addTag(ALICE, 'not-a-room', 'u.x', {}), 400, 'M_BAD_JSON');
  assert.deepEqual(recorder.waits, []);
});

test('a wrong replication secret is refused with 401', async () => {
  const before = notified.length;
  const writer = new ReplicatedAccountDataWriter(proc.replicatedOptions('wrong'));
  await rejectsWith(writer.setGlobal(ALICE, 'm.x', { a: 1 }), 401, 'M_UNAUTHORIZED');
  assert.equal(notified.length, before);
  assert.equal(await getGlobalAccountData(db.sql, ALICE, 'm.x'), null);
});

test('a retried call with the same transaction ID writes once', async () => {
  const client = proc.client();
  const before = notified.length;
  const body = { userId: ALICE, type: 'm.retry', content: { n: 1 } };
  const a = await client.call(WRITER, 'account_data_set_global', [], body, { txnId: 'retry-1' });
  // Even a different body under the same ID gets the first answer: the handler does not run again.
  const b = await client.call(WRITER, 'account_data_set_global', [], { ...body, content: { n: 2 } }, { txnId: 'retry-1' });
  assert.deepEqual(b, a);
  assert.equal(notified.length, before + 1);
  assert.deepEqual(await getGlobalAccountData(db.sql, ALICE, 'm.retry'), { n: 1 });
});
