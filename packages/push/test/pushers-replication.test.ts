import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { silentLogger, type JsonValue } from '@hs/core';
import { rejectsWith, startStreamWriterProcess, WRITER } from '@hs/replication/testing';
import { StreamWriter } from '@hs/storage';
import { createTestDatabase } from '@hs/storage/testing';
import { createLocalPushersWriter, getPushersForUser, registerPushersReplicationEndpoints, ReplicatedPushersWriter, type NewPusher } from '../src/index.ts';

const ALICE = '@alice:test';
const BOB = '@bob:test';

const db = await createTestDatabase();
const stream = await StreamWriter.open(db.sql, 'pushers', WRITER, silentLogger);
const proc = await startStreamWriterProcess(db, stream, (server, notify) =>
  registerPushersReplicationEndpoints(server, createLocalPushersWriter({ sql: db.sql, writer: stream, notify, log: silentLogger })),
);
const { notified } = proc;
after(() => proc.close());

function replicated(secret?: string) {
  const recorder = proc.replicatedOptions(secret);
  return { recorder, pushers: new ReplicatedPushersWriter(recorder) };
}

function pusher(userId: string, extra: Partial<NewPusher> = {}): NewPusher {
  return {
    userId,
    appId: 'org.example.app',
    pushkey: `key-${userId}`,
    kind: 'http',
    appDisplayName: 'App',
    deviceDisplayName: 'Phone',
    lang: 'en',
    data: { url: 'https://push.example.org/_matrix/push/v1/notify', format: 'event_id_only' },
    ...extra,
  };
}

test('each change lands on main, which notifies; the worker waits for the position', async () => {
  const { recorder, pushers } = replicated();
  const before = notified.length;
  const p1 = await pushers.setPusher(pusher(ALICE, { pushkey: 'shared', profileTag: 'tag', deviceId: 'ADEV', accessTokenId: 7 }), { append: false });
  const [stored] = await getPushersForUser(db.sql, ALICE);
  assert.equal(stored?.profileTag, 'tag');
  assert.equal(stored?.deviceId, 'ADEV');
  assert.equal(stored?.accessTokenId, 7);
  assert.deepEqual(stored?.data, pusher(ALICE).data);
  assert.equal(stored?.streamId, p1);

  // Bob takes over the shared pushkey: Alice's pusher goes, and both hear of it.
  const p2 = await pushers.setPusher(pusher(BOB, { pushkey: 'shared' }), { append: false });
  assert.deepEqual(await getPushersForUser(db.sql, ALICE), []);
  const p3 = await pushers.setPusher(pusher(BOB, { deviceId: 'BDEV' }), { append: true });
  assert.equal((await getPushersForUser(db.sql, BOB)).length, 2);
  const p4 = await pushers.removePusher(BOB, 'org.example.app', 'shared');
  const p5 = await pushers.removePushersForDevices(BOB, ['BDEV']);
  assert.deepEqual(await getPushersForUser(db.sql, BOB), []);
  assert.ok(p4 !== null && p5 !== null && p1 < p2 && p2 < p3 && p3 < p4 && p4 < p5);

  assert.deepEqual(notified.slice(before), [
    { stream: 'pushers', position: p1, users: [ALICE] },
    { stream: 'pushers', position: p2, users: [BOB, ALICE] },
    { stream: 'pushers', position: p3, users: [BOB] },
    { stream: 'pushers', position: p4, users: [BOB] },
    { stream: 'pushers', position: p5, users: [BOB] },
  ]);
  assert.deepEqual(
    recorder.waits,
    [p1, p2, p3, p4, p5].map((position) => ({ stream: 'pushers', instance: WRITER, position })),
  );
});

test('a removal that finds nothing answers null and waits for nothing', async () => {
  const { recorder, pushers } = replicated();
  const before = notified.length;
  assert.equal(await pushers.removePusher(ALICE, 'org.example.app', 'none'), null);
  assert.equal(await pushers.removePushersForDevices(ALICE, ['NODEV']), null);
  assert.equal(await pushers.removePushersForDevices(ALICE, []), null);
  assert.equal(notified.length, before);
  assert.deepEqual(recorder.waits, []);
});

test('malformed bodies are 400 M_BAD_JSON on main and write nothing', async () => {
  const client = proc.client();
  const before = notified.length;
  const good = { ...pusher(ALICE) } as unknown as Record<string, JsonValue>;
  const bad: [string, JsonValue][] = [
    ['pushers_set_pusher', null],
    ['pushers_set_pusher', { pusher: good }],
    ['pushers_set_pusher', { pusher: good, opts: { append: 'no' } }],
    ['pushers_set_pusher', { pusher: { ...good, userId: 'alice' }, opts: { append: false } }],
    ['pushers_set_pusher', { pusher: { ...good, data: 'x' }, opts: { append: false } }],
    ['pushers_set_pusher', { pusher: { ...good, accessTokenId: 1.5 }, opts: { append: false } }],
    ['pushers_set_pusher', { pusher: { ...good, lang: undefined } as unknown as JsonValue, opts: { append: false } }],
    ['pushers_remove_pusher', { userId: ALICE, appId: 'a' }],
    ['pushers_remove_pushers_for_devices', { userId: ALICE, deviceIds: 'DEV' }],
    ['pushers_remove_pushers_for_devices', { userId: ALICE, deviceIds: [1] }],
  ];
  for (const [name, body] of bad) await rejectsWith(client.call(WRITER, name, [], body), 400, 'M_BAD_JSON');
  assert.equal(notified.length, before);
  assert.deepEqual(await getPushersForUser(db.sql, ALICE), []);
});

test('errors from main reach the caller unchanged; a wrong secret is refused with 401', async () => {
  const { recorder, pushers } = replicated();
  await rejectsWith(pushers.setPusher(pusher('not-a-user'), { append: false }), 400, 'M_BAD_JSON');
  const wrong = replicated('wrong');
  await rejectsWith(wrong.pushers.setPusher(pusher(ALICE), { append: false }), 401, 'M_UNAUTHORIZED');
  await rejectsWith(wrong.pushers.removePusher(ALICE, 'a', 'b'), 401, 'M_UNAUTHORIZED');
  assert.deepEqual(await getPushersForUser(db.sql, ALICE), []);
  assert.deepEqual([...recorder.waits, ...wrong.recorder.waits], []);
});

test('a retried call with the same transaction ID writes once', async () => {
  const client = proc.client();
  const before = notified.length;
  const body = { pusher: { ...pusher(ALICE) } as unknown as JsonValue, opts: { append: false } };
  const a = await client.call(WRITER, 'pushers_set_pusher', [], body, { txnId: 'retry-1' });
  const b = await client.call(WRITER, 'pushers_set_pusher', [], body, { txnId: 'retry-1' });
  assert.deepEqual(b, a);
  assert.equal(notified.length, before + 1);
  assert.equal((await getPushersForUser(db.sql, ALICE))[0]?.streamId, (a as { position: number }).position);
});
