import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { silentLogger, type JsonValue, type StreamChange } from '@hs/core';
import type { TestApp } from '@hs/http/testing';
import { InProcessBus, InProcessHub, StreamPublisher } from '@hs/replication';
import { eventually, rejectsWith, startWriterProcess, WRITER, writerClient, type WriterProcess } from '@hs/replication/testing';
import type { TestDatabase } from '@hs/storage/testing';
import { registerTypingReplicationEndpoints, TypingMirror, typingRowsAnswer, TypingState } from '../src/index.ts';
import { enc, ephemeralDatabase, FakeClock, FakeWorld, startWorkerApp } from './support.ts';

const ROOM = '!room:test';
const ROOM2 = '!other:test';
const ALICE = '@alice:test';
const BOB = '@bob:test';
const typingPath = (room: string, user: string) => `/_matrix/client/v3/rooms/${enc(room)}/typing/${enc(user)}`;

/** The typing writer process: its TypingState, its replication listener, and its bus publisher. */
interface Writer {
  readonly typing: TypingState;
  readonly proc: WriterProcess;
  readonly bus: InProcessBus;
  readonly publisher: StreamPublisher;
  readonly changes: StreamChange[];
  stop(): Promise<void>;
}

const hub = new InProcessHub();
const clock = new FakeClock();

async function startWriter(): Promise<Writer> {
  const bus = new InProcessBus({ instanceName: WRITER, hub });
  await bus.start();
  const publisher = new StreamPublisher({ bus });
  const changes: StreamChange[] = [];
  // The wiring a process does: each change's row goes out on the bus at its serial.
  const typing = new TypingState({
    notify: (c) => void changes.push(c),
    clock: clock.now,
    autoTick: false,
    tickMs: 1000,
    onRow: (row) => publisher.publish('typing', row.id, [row]),
  });
  publisher.addStream('typing', typing.position);
  const proc = await startWriterProcess();
  registerTypingReplicationEndpoints(proc.server, typing);
  publisher.start();
  return {
    typing,
    proc,
    bus,
    publisher,
    changes,
    async stop() {
      publisher.stop();
      typing.close();
      await bus.stop();
      await proc.close();
    },
  };
}

let writer: Writer;
let db: TestDatabase;
let workerBus: InProcessBus;
let mirror: TypingMirror;
const workerChanges: StreamChange[] = [];
let app: TestApp;
const world = new FakeWorld();

before(async () => {
  db = await ephemeralDatabase();
  writer = await startWriter();
  workerBus = new InProcessBus({ instanceName: 'worker1', hub });
  await workerBus.start();
  const client = writerClient(() => writer.proc.port);
  mirror = new TypingMirror({ client, instance: WRITER, notify: (c) => void workerChanges.push(c), log: silentLogger, catchUpAfterMs: 50, retry: { initialDelayMs: 10, maxDelayMs: 50 } });
  mirror.attach(workerBus);
  await mirror.start();
  const opts = { client, instance: WRITER, waitFor: async (_s: string, _i: string, position: number) => void (await mirror.waitFor(position, 5000)) };
  world.join(ROOM, ALICE, BOB);
  world.join(ROOM2, ALICE, BOB);
  app = await startWorkerApp(db, world, opts);
});

after(async () => {
  mirror.stop();
  await app.close();
  await workerBus.stop();
  await writer.stop();
  await db.close();
});

async function put(room: string, user: string, body: unknown): Promise<number> {
  const res = await fetch(app.baseUrl + typingPath(room, user), { method: 'PUT', headers: { authorization: `Bearer ${user}` }, body: JSON.stringify(body) });
  return res.status;
}

/** Every question /sync asks, answered the same by writer and mirror. */
function assertSameView(): void {
  const w = writer.typing;
  assert.equal(mirror.position, w.position);
  const rooms = [ROOM, ROOM2, '!third:test', '!fourth:test'];
  for (let from = 0; from <= w.position; from++) {
    assert.deepEqual(mirror.getTypingUpdates(from, w.position), w.getTypingUpdates(from, w.position), `updates since ${from}`);
    assert.deepEqual(mirror.getTypingUpdates(from, w.position, rooms.slice(1)), w.getTypingUpdates(from, w.position, rooms.slice(1)));
  }
  assert.deepEqual(mirror.getRoomsTyping(rooms), w.getRoomsTyping(rooms));
}

test('typing through a worker reaches the writer, and the worker reads it back at once', async () => {
  assert.equal(mirror.epoch, writer.typing.epoch);
  workerChanges.length = 0;
  assert.equal(await put(ROOM, ALICE, { typing: true, timeout: 5000 }), 200);
  assert.equal(writer.typing.isTyping(ROOM, ALICE), true);
  // The worker waited for its mirror to reach the writer's answer: no polling needed here.
  assert.equal(mirror.isTyping(ROOM, ALICE), true);
  assert.equal(mirror.position, writer.typing.position);
  assert.deepEqual(workerChanges, [{ stream: 'typing', position: writer.typing.position, rooms: [ROOM] }]);
  assert.deepEqual(writer.changes.at(-1), { stream: 'typing', position: writer.typing.position, rooms: [ROOM] });

  assert.equal(await put(ROOM, ALICE, { typing: false }), 200);
  assert.equal(writer.typing.isTyping(ROOM, ALICE), false);
  assert.equal(mirror.isTyping(ROOM, ALICE), false);

  // The worker checks membership itself and forwards nothing it refuses.
  const before = writer.typing.position;
  assert.equal(await put('!elsewhere:test', ALICE, { typing: true }), 403);
  assert.equal(await put(ROOM, BOB, { typing: 'yes' }), 400);
  assert.equal(writer.typing.position, before);
  assertSameView();
});

test('the mirror answers like the writer through starts, stops and expiry', async () => {
  const w = writer.typing;
  w.start(ROOM, ALICE, 3000);
  w.start(ROOM, BOB, 60_000);
  w.start(ROOM2, BOB, 3000);
  w.stop(ROOM, BOB);
  w.start('!third:test', ALICE, 10_000);
  await eventually(() => mirror.position === w.position, 3000, 'mirror to catch up');
  assertSameView();
  assert.deepEqual(mirror.getRoomsTyping([ROOM, ROOM2]), new Map([[ROOM, [ALICE]], [ROOM2, [BOB]]]));

  // The writer times typing out; the mirror has no timers of its own and follows.
  workerChanges.length = 0;
  clock.advance(4000);
  w.tick();
  await eventually(() => mirror.position === w.position, 3000, 'expiry to reach the mirror');
  assert.equal(mirror.isTyping(ROOM, ALICE), false);
  assert.equal(mirror.isTyping(ROOM2, BOB), false);
  assert.equal(mirror.isTyping('!third:test', ALICE), true);
  assert.deepEqual(new Set(workerChanges.flatMap((c) => c.rooms ?? [])), new Set([ROOM, ROOM2]));
  assertSameView();
  clock.advance(10_000);
  w.tick();
  await eventually(() => !mirror.isTyping('!third:test', ALICE), 3000, 'second expiry');
  assertSameView();
});

test('a mirror that missed rows fetches them from the writer', async () => {
  const w = writer.typing;
  // Rows published while the worker is cut off from the bus are lost to it.
  await workerBus.stop();
  w.start(ROOM, ALICE, 30_000);
  w.start(ROOM2, ALICE, 30_000);
  w.stop(ROOM, ALICE);
  const lostUpTo = w.position;
  await workerBus.start();
  assert.ok(mirror.position < lostUpTo);
  // The next row's `prev` shows the gap.
  w.start('!fourth:test', BOB, 30_000);
  await eventually(() => mirror.position === w.position, 3000, 'gap repair');
  assertSameView();

  // Nothing more comes over the bus: waitFor asks the writer itself after catchUpAfterMs.
  await workerBus.stop();
  w.stop(ROOM2, ALICE);
  assert.equal(await mirror.waitFor(w.position, 3000), true);
  assert.equal(mirror.isTyping(ROOM2, ALICE), false);
  await workerBus.start();
  assertSameView();
});

test('writer endpoints refuse malformed bodies and a wrong secret, and retries run once', async () => {
  const client = writerClient(() => writer.proc.port);
  const bad: [string, JsonValue][] = [
    ['typing_start', []],
    ['typing_start', { room_id: 'room', user_id: ALICE, timeout_ms: 1000 }],
    ['typing_start', { room_id: ROOM, user_id: 'alice', timeout_ms: 1000 }],
    ['typing_start', { room_id: ROOM, user_id: ALICE }],
    ['typing_start', { room_id: ROOM, user_id: ALICE, timeout_ms: -5 }],
    ['typing_start', { room_id: ROOM, user_id: ALICE, timeout_ms: 'soon' }],
    ['typing_stop', { room_id: ROOM }],
    ['typing_rows', {}],
    ['typing_rows', { from: -1 }],
    ['typing_rows', { from: 0, epoch: 5 }],
  ];
  const before = writer.typing.position;
  for (const [name, body] of bad) await rejectsWith(client.call(WRITER, name, [], body), 400, 'M_BAD_JSON');
  await rejectsWith(writerClient(() => writer.proc.port, 'wrong').call(WRITER, 'typing_start', [], { room_id: ROOM, user_id: BOB, timeout_ms: 1000 }), 401, 'M_UNAUTHORIZED');
  assert.equal(writer.typing.position, before);

  const a = await client.call(WRITER, 'typing_start', [], { room_id: ROOM, user_id: BOB, timeout_ms: 1000 }, { txnId: 'typing-retry' });
  const b = await client.call(WRITER, 'typing_stop', [], { room_id: ROOM, user_id: BOB }, { txnId: 'typing-retry' });
  // typing_stop is a different endpoint: its own transaction, so it runs.
  assert.deepEqual(a, { position: before + 1 });
  assert.deepEqual(b, { position: before + 2 });
  const again = await client.call(WRITER, 'typing_start', [], { room_id: ROOM, user_id: BOB, timeout_ms: 1000 }, { txnId: 'typing-retry' });
  assert.deepEqual(again, a);
  assert.equal(writer.typing.isTyping(ROOM, BOB), false, 'the repeated start did not run again');
  await eventually(() => mirror.position === writer.typing.position, 3000, 'mirror');
});

test('catch-up answers: incremental for the current epoch, whole state otherwise', () => {
  const t = new TypingState({ notify: () => {}, clock: clock.now, autoTick: false });
  t.start(ROOM, ALICE, 1000);
  t.start(ROOM2, BOB, 1000);
  assert.deepEqual(typingRowsAnswer(t, 1, t.epoch), { epoch: t.epoch, position: 2, full: false, rows: [{ id: 2, room_id: ROOM2, user_ids: [BOB] }] });
  assert.equal(typingRowsAnswer(t, 1, 'another').full, true);
  assert.equal(typingRowsAnswer(t, 1, undefined).rows.length, 2);
  assert.equal(typingRowsAnswer(t, 7, t.epoch).full, true, 'a mirror ahead of the writer starts over');
  t.close();
});

test('a restarted writer (serials from 0, new epoch) makes the mirror start over', async () => {
  writer.typing.start(ROOM, ALICE, 60_000);
  await eventually(() => mirror.isTyping(ROOM, ALICE), 3000, 'typing before the restart');
  const oldEpoch = writer.typing.epoch;
  const oldPosition = writer.typing.position;
  await writer.stop();
  workerChanges.length = 0;
  // The new run announces POSITION 0 on start; the mirror is far ahead of that and asks.
  writer = await startWriter();
  await eventually(() => mirror.epoch === writer.typing.epoch, 3000, 'resync after POSITION');
  assert.notEqual(mirror.epoch, oldEpoch);
  assert.equal(mirror.position, 0);
  assert.equal(mirror.isTyping(ROOM, ALICE), false, 'typing held by the old run is gone');
  assert.ok(workerChanges.some((c) => c.rooms?.includes(ROOM)), 'long-polls in the affected room are woken');
  writer.typing.start(ROOM2, BOB, 60_000);
  await eventually(() => mirror.position === 1, 3000, 'first row of the new run');
  assertSameView();

  // Restart again, this time unheard (bus down), and let the new run's serials climb back to exactly
  // where the mirror is: only the epoch on the next row can tell it apart from a continuation.
  const seen = mirror.position;
  await workerBus.stop();
  await writer.stop();
  writer = await startWriter();
  writer.typing.start('!third:test', ALICE, 60_000);
  assert.equal(writer.typing.position, seen);
  await workerBus.start();
  writer.typing.start('!fourth:test', BOB, 60_000); // prev = seen: looks contiguous
  await eventually(() => mirror.epoch === writer.typing.epoch && mirror.position === writer.typing.position, 3000, 'resync by epoch');
  assert.equal(mirror.isTyping(ROOM2, BOB), false);
  assert.equal(mirror.isTyping('!third:test', ALICE), true);
  assertSameView();
  assert.ok(oldPosition > 0);
});
