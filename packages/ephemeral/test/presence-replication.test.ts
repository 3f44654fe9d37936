import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { silentLogger, type JsonValue, type StreamChange } from '@hs/core';
import type { TestApp } from '@hs/http/testing';
import type { ReplicationCaller } from '@hs/replication';
import { eventually, recordWaits, rejectsWith, startWriterProcess, WRITER, writerClient, type WriterProcess } from '@hs/replication/testing';
import { StreamWriter } from '@hs/storage';
import type { TestDatabase } from '@hs/storage/testing';
import { getPresence, PresenceHandler, registerPresenceReplicationEndpoints, ReplicatedPresence, type ReplicatedPresenceOptions } from '../src/index.ts';
import { enc, ephemeralDatabase, FakeClock, FakeWorld, startWorkerApp } from './support.ts';

const ROOM = '!room:test';
const ALICE = '@alice:test';
const BOB = '@bob:test';
const statusPath = (user: string) => `/_matrix/client/v3/presence/${enc(user)}/status`;

let db: TestDatabase;
let stream: StreamWriter;
const clock = new FakeClock();
const notified: StreamChange[] = [];
/** The presence writer process; replaced when a test restarts it. */
let handler: PresenceHandler;
let proc: WriterProcess;

async function startPresenceWriter(): Promise<void> {
  handler = await PresenceHandler.start({
    sql: db.sql,
    stream,
    notify: (c) => void notified.push(c),
    serverName: 'test',
    enabled: true,
    clock: clock.now,
    autoTick: false,
    tickMs: 1000,
    log: silentLogger,
  });
  proc = await startWriterProcess();
  registerPresenceReplicationEndpoints(proc.server, handler);
}

async function stopPresenceWriter(): Promise<void> {
  await proc.close();
  await handler.close();
}

/** A ReplicationCaller that records the endpoint names called through it. */
function recordingClient(secret?: string): { client: ReplicationCaller; calls: string[] } {
  const real = writerClient(() => proc.port, secret);
  const calls: string[] = [];
  return {
    calls,
    client: {
      call: (instance, name, params, body) => {
        calls.push(name);
        return real.call(instance, name, params, body);
      },
    },
  };
}

function worker(extra: Partial<ReplicatedPresenceOptions> = {}) {
  const { client, calls } = recordingClient();
  const recorder = recordWaits();
  // Heartbeats are sent by hand here (their timer is tested by the timeout below never firing early).
  const presence = new ReplicatedPresence({ client, instance: WRITER, waitFor: recorder.waitFor, instanceName: 'worker1', heartbeatMs: 3_600_000, endDelayMs: 0, ...extra });
  return { presence, calls, waits: recorder.waits };
}

before(async () => {
  db = await ephemeralDatabase();
  stream = await StreamWriter.open(db.sql, 'presence', WRITER, silentLogger);
  await startPresenceWriter();
});

after(async () => {
  await stopPresenceWriter();
  await stream.flush();
  await db.close();
});

test('a worker serves PUT and GET /presence: writes go to the writer, reads come from Postgres', async () => {
  const world = new FakeWorld();
  world.join(ROOM, ALICE, BOB);
  const { presence, waits } = worker();
  const opts = { client: writerClient(() => proc.port), instance: WRITER, waitFor: async () => {} };
  let app: TestApp | undefined;
  try {
    app = await startWorkerApp(db, world, opts, { presence, clock: clock.now });
    const call = async (method: string, path: string, as: string, body?: unknown) => {
      const res = await fetch(app!.baseUrl + path, { method, headers: { authorization: `Bearer ${as}` }, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    };
    const before = notified.length;
    assert.deepEqual(await call('PUT', statusPath(ALICE), ALICE, { presence: 'online', status_msg: 'Here' }), { status: 200, json: {} });
    assert.equal(handler.current(ALICE).state, 'online');
    const announced = notified.slice(before);
    assert.equal(announced.length, 1);
    assert.deepEqual(announced[0]?.users, [ALICE]);
    assert.deepEqual(waits, [{ stream: 'presence', instance: WRITER, position: announced[0]?.position }]);
    clock.advance(1500);
    const own = await call('GET', statusPath(ALICE), ALICE);
    assert.deepEqual(own, { status: 200, json: { presence: 'online', last_active_ago: 1500, status_msg: 'Here', currently_active: true } });
    assert.deepEqual(await call('GET', statusPath(ALICE), BOB), own);
    // Refusals happen on the worker; malformed input never reaches the writer.
    assert.equal((await call('PUT', statusPath(BOB), ALICE, { presence: 'online' })).status, 403);
    assert.equal((await call('PUT', statusPath(ALICE), ALICE, { presence: 'busy' })).status, 400);
    assert.equal((await call('GET', statusPath(ALICE), '@stranger:test')).status, 403);
    assert.equal(notified.length, before + 1);
  } finally {
    await app?.close();
    await presence.close();
  }
});

test('a sync on a worker keeps the user online on the writer until it ends', async () => {
  const carol = '@carol:test';
  const { presence, waits, calls } = worker();
  const release = await presence.userSyncing(carol, 'online');
  assert.equal(handler.current(carol).state, 'online');
  assert.equal(handler.isSyncing(carol), true);
  assert.equal(waits.length, 1, 'the worker waits for the presence change before its /sync goes on');
  clock.advance(40_000);
  await handler.tick();
  assert.equal(handler.current(carol).state, 'online', 'still syncing on worker1');
  release();
  release(); // idempotent
  await eventually(() => !handler.isSyncing(carol), 3000, 'end of sync reported');
  clock.advance(20_000);
  await handler.tick();
  assert.equal(handler.current(carol).state, 'online', 'only 20 s since the sync ended');
  clock.advance(12_000);
  await handler.tick();
  assert.equal(handler.current(carol).state, 'offline');
  assert.equal((await getPresence(db.sql, carol))?.state, 'offline');
  assert.deepEqual(calls, ['presence_user_sync', 'presence_user_sync']);
  // set_presence=offline is neither tracked nor sent.
  (await presence.userSyncing(carol, 'offline'))();
  assert.equal(calls.length, 2);
  await presence.close();
});

test('back-to-back syncs do not report an end; set_presence=unavailable is applied', async () => {
  const dan = '@dan:test';
  const { presence, calls } = worker({ endDelayMs: 200 });
  const first = await presence.userSyncing(dan, 'unavailable');
  assert.equal(handler.current(dan).state, 'unavailable');
  first();
  const second = await presence.userSyncing(dan, 'unavailable');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(handler.isSyncing(dan), true, 'the pending end was cancelled by the next sync');
  assert.deepEqual(calls, ['presence_user_sync', 'presence_user_sync']);
  second();
  await eventually(() => !handler.isSyncing(dan), 3000, 'end after the delay');
  assert.deepEqual(calls, ['presence_user_sync', 'presence_user_sync', 'presence_user_sync']);
  await presence.close();
});

test('a worker that stops sending heartbeats has its users timed out', async () => {
  const erin = '@erin:test';
  const fay = '@fay:test';
  const dead = worker();
  const alive = worker({ instanceName: 'worker2' });
  await dead.presence.userSyncing(erin, 'online');
  await alive.presence.userSyncing(fay, 'online');
  // worker1 is never heard from again (it died without a word); worker2 keeps beating.
  clock.advance(40_000);
  await alive.presence.heartbeat();
  await handler.tick();
  assert.equal(handler.current(erin).state, 'online');
  clock.advance(26_000);
  await alive.presence.heartbeat();
  await handler.tick();
  assert.equal(handler.isSyncing(erin), false, 'two heartbeats missed');
  assert.equal(handler.current(erin).state, 'offline', 'offline at once: its last sync was seen over 30 s ago');
  assert.equal((await getPresence(db.sql, erin))?.state, 'offline');
  assert.equal(handler.isSyncing(fay), true);
  assert.equal(handler.current(fay).state, 'online');
  assert.deepEqual(alive.calls, ['presence_user_sync', 'presence_user_sync_heartbeat', 'presence_user_sync_heartbeat']);
  await alive.presence.close();
  assert.equal(handler.isSyncing(fay), false, 'a closing worker tells the writer');
});

test('heartbeats repair lost reports, and a new run of a worker clears what the old one left', async () => {
  const gus = '@gus:test';
  const hal = '@hal:test';
  // An earlier run of worker1 reported a sync whose end never arrived.
  await writerClient(() => proc.port).call(WRITER, 'presence_user_sync', [], { instance: 'worker1', user_id: gus, state: 'start', set_presence: 'online' });
  assert.equal(handler.isSyncing(gus), true);
  const { presence, calls } = worker();
  presence.start();
  await eventually(() => !handler.isSyncing(gus), 3000, 'the first heartbeat clears worker1');
  assert.deepEqual(calls, ['presence_user_sync_heartbeat']);
  // Nothing syncing and the writer knows it: no more heartbeats needed.
  await presence.heartbeat();
  assert.equal(calls.length, 1);

  await presence.userSyncing(hal, 'online');
  // The writer restarts and forgets who syncs where; the next heartbeat tells it again.
  await stopPresenceWriter();
  await startPresenceWriter();
  assert.equal(handler.isSyncing(hal), false);
  await presence.heartbeat();
  assert.equal(handler.isSyncing(hal), true);
  assert.equal(handler.current(hal).state, 'online');
  await presence.close();
  assert.equal(handler.isSyncing(hal), false);
});

test('bumps and set_presence from sync are forwarded; disabled presence sends nothing', async () => {
  const ivy = '@ivy:test';
  const { presence, waits } = worker();
  await presence.setState(ivy, 'unavailable', null);
  assert.equal(handler.current(ivy).state, 'unavailable');
  const p = await presence.bumpActive(ivy);
  assert.equal(handler.current(ivy).state, 'online');
  assert.equal(waits.at(-1)?.position, p);
  await presence.setState(ivy, 'offline', 'away');
  await presence.setFromSync(ivy, 'online');
  assert.equal(handler.current(ivy).state, 'online');
  assert.equal(handler.current(ivy).statusMsg, 'away');
  assert.equal(await presence.setFromSync(ivy, 'offline'), null);
  await presence.close();

  const off = worker({ enabled: false });
  off.presence.start();
  await off.presence.setState(ivy, 'online');
  await off.presence.bumpActive(ivy);
  (await off.presence.userSyncing(ivy))();
  await off.presence.heartbeat();
  await off.presence.close();
  assert.deepEqual(off.calls, []);
});

test('writer endpoints refuse malformed bodies and a wrong secret, and retries run once', async () => {
  const client = writerClient(() => proc.port);
  const bad: [string, JsonValue][] = [
    ['presence_set_state', []],
    ['presence_set_state', { user_id: 'alice', state: 'online', status_msg: null }],
    ['presence_set_state', { user_id: ALICE, state: 'busy', status_msg: null }],
    ['presence_set_state', { user_id: ALICE, state: 'online', status_msg: 5 }],
    ['presence_set_from_sync', { user_id: ALICE }],
    ['presence_bump_active', {}],
    ['presence_user_sync', { instance: 'w', user_id: ALICE, state: 'maybe' }],
    ['presence_user_sync', { user_id: ALICE, state: 'start' }],
    ['presence_user_sync', { instance: 'w', user_id: ALICE, state: 'start', set_presence: 'away' }],
    ['presence_user_sync', { instance: 'w'.repeat(201), user_id: ALICE, state: 'start' }],
    ['presence_user_sync_heartbeat', { instance: 'w', syncing: [] }],
    ['presence_user_sync_heartbeat', { instance: 'w', syncing: { alice: 'online' } }],
    ['presence_user_sync_heartbeat', { instance: 'w', syncing: { [ALICE]: 'away' } }],
  ];
  const before = notified.length;
  for (const [name, body] of bad) await rejectsWith(client.call(WRITER, name, [], body), 400, 'M_BAD_JSON');
  assert.equal(handler.isSyncing(ALICE), false);
  const { presence } = worker();
  await rejectsWith(new ReplicatedPresence({ client: recordingClient('wrong').client, instance: WRITER, waitFor: async () => {}, instanceName: 'w' }).setState(ALICE, 'online', 'x'), 401, 'M_UNAUTHORIZED');
  assert.equal(notified.length, before);

  const a = await client.call(WRITER, 'presence_set_state', [], { user_id: '@jo:test', state: 'online', status_msg: 'one' }, { txnId: 'presence-retry' });
  const b = await client.call(WRITER, 'presence_set_state', [], { user_id: '@jo:test', state: 'online', status_msg: 'two' }, { txnId: 'presence-retry' });
  assert.deepEqual(b, a);
  assert.equal(notified.length, before + 1);
  assert.equal((await getPresence(db.sql, '@jo:test'))?.statusMsg, 'one');
  await presence.close();
});
