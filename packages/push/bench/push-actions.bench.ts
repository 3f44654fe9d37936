/**
 * Push actions at persist time, on a real database: rooms of 50 and 200 local members, every message
 * notifying every member but its sender (the worst common case: 49 or 199 rows per event).
 *
 *   node packages/push/bench/push-actions.bench.ts [seconds per case, default 3]
 *   BENCH_ONLY=alone|e2e node packages/push/bench/push-actions.bench.ts   (one part only)
 *
 * 1. computePushActions alone, batches of 1, 10 and 50 events (as the persister hands them over),
 *    one batch at a time: events/s, ms per event, and (recipient, event) notifications stored per second.
 * 2. End to end through the rooms service (create, sign, persist, then the hook — which runs while
 *    the room's next batch persists), 20 concurrent senders in one room, with and without the hook:
 *    what computing push actions costs sending.
 * 3. getUnreadCounts for a member with everything unread (before any cleanup).
 * The target is 1 000 events/s in a 200-member room.
 */
import { silentLogger } from '@hs/core';
import { keyPairFromSeed } from '@hs/events';
import { LocalEventPersister, RoomsService, StateStore } from '@hs/rooms';
import { StreamWriter } from '@hs/storage';
import { createTestDatabase } from '@hs/storage/testing';
import { computePushActions, getUnreadCounts, PushRulesCache, type PushActionsDeps, type PushableEvent } from '../src/index.ts';

const seconds = Number(process.argv[2] ?? 3);
const SERVER = 'bench.local';
const db = await createTestDatabase();
const writer = await StreamWriter.open(db.sql, 'events', 'bench', silentLogger);
const deps: PushActionsDeps = { sql: db.sql, serverName: SERVER, log: silentLogger, rulesCache: new PushRulesCache() };
let hookOn = false;
let hookMs = 0;
let hookCalls = 0;
let hookEvents = 0;
const persister = new LocalEventPersister({
  sql: db.sql,
  writer,
  state: new StateStore(db.sql),
  serverName: SERVER,
  notify: () => {},
  log: silentLogger,
  onPersisted: async (events) => {
    if (!hookOn) return;
    const t0 = performance.now();
    await computePushActions(deps, events);
    hookMs += performance.now() - t0;
    hookCalls++;
    hookEvents += events.length;
  },
});
const service = new RoomsService({
  sql: db.sql,
  serverName: SERVER,
  log: silentLogger,
  notify: () => {},
  serverKey: { keyId: 'ed25519:b', secretKey: keyPairFromSeed(new Uint8Array(32).fill(5)).secretKey },
  eventsWriter: writer,
  getProfile: async (u) => ({ displayname: u.slice(1, u.indexOf(':')) }),
  persister,
});

const users = Array.from({ length: 200 }, (_, i) => `@user${i}:${SERVER}`);

async function roomWith(members: number): Promise<string> {
  const { roomId } = await service.createRoom(users[0] as string, { preset: 'public_chat', room_version: '11' });
  for (const u of users.slice(1, members)) await service.updateMembership({ roomId, sender: u, target: u, action: 'join' });
  return roomId;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

let nextStream = 1_000_000_000;
let nextId = 0;

async function isolated(roomId: string, members: number, batch: number): Promise<void> {
  const template = (await service.store.getEventList([await service.sendMessageEvent({
    roomId,
    sender: users[1] as string,
    type: 'm.room.message',
    content: { msgtype: 'm.text', body: 'template' },
  }).then((r) => r.eventId)]))[0];
  if (!template) throw new Error('no template event');
  await db.sql`CHECKPOINT`;
  const latencies: number[] = [];
  let events = 0;
  let rows = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  while (performance.now() < deadline) {
    const list: PushableEvent[] = [];
    for (let i = 0; i < batch; i++) {
      const n = nextId++;
      list.push({
        eventId: `$bench${n}`,
        roomId,
        streamOrdering: nextStream++,
        pdu: { ...template.pdu, content: { msgtype: 'm.text', body: `message ${n} about the release` } },
      });
    }
    const t0 = performance.now();
    rows += (await computePushActions(deps, list)).notified;
    latencies.push(performance.now() - t0);
    events += batch;
  }
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  console.log(
    [
      String(members).padStart(7),
      String(batch).padStart(5),
      (events / elapsed).toFixed(0).padStart(9),
      ((elapsed * 1000) / events).toFixed(3).padStart(8),
      percentile(latencies, 50).toFixed(2).padStart(8),
      percentile(latencies, 99).toFixed(2).padStart(8),
      (rows / elapsed).toFixed(0).padStart(10),
    ].join(' '),
  );
}

async function endToEnd(roomId: string, members: number, withHook: boolean): Promise<void> {
  hookOn = withHook;
  hookMs = 0;
  hookCalls = 0;
  hookEvents = 0;
  await db.sql`CHECKPOINT`;
  const senders = 20;
  let sent = 0;
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: senders }, async (_, i) => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        await service.sendMessageEvent({ roomId, sender: users[i + 1] as string, type: 'm.room.message', content: { msgtype: 'm.text', body: `e2e ${sent}` } });
        latencies.push(performance.now() - t0);
        sent++;
      }
    }),
  );
  hookOn = false;
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  console.log(
    [
      String(members).padStart(7),
      (withHook ? 'on' : 'off').padStart(5),
      (sent / elapsed).toFixed(0).padStart(9),
      percentile(latencies, 50).toFixed(2).padStart(8),
      percentile(latencies, 99).toFixed(2).padStart(8),
      withHook ? `   hook: ${(hookEvents / Math.max(1, hookCalls)).toFixed(1)} events/batch, ${(hookMs / Math.max(1, hookCalls)).toFixed(2)} ms/batch` : '',
    ].join(' '),
  );
}

const small = await roomWith(50);
const big = await roomWith(200);

const only = process.env.BENCH_ONLY;
if (only !== 'e2e') {
  console.log(`computePushActions alone (${seconds}s per case)`);
  console.log('members batch  events/s ms/event  p50(ms)  p99(ms) notified/s');
  for (const [roomId, members] of [[small, 50], [big, 200]] as const) {
    for (const batch of [1, 10, 50]) await isolated(roomId, members, batch);
  }
}
if (only !== 'alone') {
  console.log(`\nend to end through the rooms service, 20 senders (${seconds}s per case)`);
  console.log('members  hook  events/s  p50(ms)  p99(ms)');
  for (const [roomId, members] of [[small, 50], [big, 200]] as const) {
    await endToEnd(roomId, members, false);
    await endToEnd(roomId, members, true);
  }
}

const counts = await getUnreadCounts(db.sql, users[5] as string, [small, big]);
const n = [...counts.values()].reduce((sum, c) => sum + c.notification_count, 0);
const t0 = performance.now();
const reps = 50;
for (let i = 0; i < reps; i++) await getUnreadCounts(db.sql, users[5] as string, [small, big]);
console.log(`\ngetUnreadCounts, 2 rooms, ${n} unread notifications: ${((performance.now() - t0) / reps).toFixed(2)} ms`);

await writer.flush();
await db.close();
process.exit(0);
