/**
 * Event sending throughput and latency through the rooms service (event creator → local persister →
 * Postgres), not HTTP: persisted events/s, per-send latency p50/p99 and CPU per event for 1, 10 and 50 concurrent
 * senders spread over 1 and 10 rooms. Each sender sends one event at a time, as a client would.
 *
 *   node packages/rooms/bench/send.bench.ts [seconds per case, default 5]
 *   BENCH_ROOMS=10 node packages/rooms/bench/send.bench.ts   (only the 10-room cases)
 *
 * Cases share one database, so later cases run on a bigger, freshly churned one (autovacuum at
 * work): run a case alone for its figure on a quiet database.
 */
import { silentLogger } from '@hs/core';
import { keyPairFromSeed } from '@hs/events';
import { StreamWriter } from '@hs/storage';
import { createTestDatabase } from '@hs/storage/testing';
import { RoomsService } from '../src/rooms-service.ts';

const seconds = Number(process.argv[2] ?? 5);
const SERVER = 'bench.local';
const db = await createTestDatabase();
const writer = await StreamWriter.open(db.sql, 'events', 'bench', silentLogger);
const service = new RoomsService({
  sql: db.sql,
  serverName: SERVER,
  log: silentLogger,
  notify: () => {},
  serverKey: { keyId: 'ed25519:b', secretKey: keyPairFromSeed(new Uint8Array(32).fill(3)).secretKey },
  eventsWriter: writer,
  getProfile: async () => ({}),
});

const users = Array.from({ length: 50 }, (_, i) => `@user${i}:${SERVER}`);

async function setupRooms(count: number): Promise<string[]> {
  const rooms: string[] = [];
  for (let r = 0; r < count; r++) {
    const { roomId } = await service.createRoom(users[0] as string, { preset: 'public_chat' });
    for (const u of users.slice(1)) await service.updateMembership({ roomId, sender: u, target: u, action: 'join' });
    rooms.push(roomId);
  }
  return rooms;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function run(senders: number, roomCount: number): Promise<void> {
  const rooms = await setupRooms(roomCount);
  // Start each case with no dirty pages left over from the previous one.
  await db.sql`CHECKPOINT`;
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  let seq = 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: senders }, async (_, i) => {
      const roomId = rooms[i % roomCount] as string;
      const sender = users[i] as string;
      while (performance.now() < deadline) {
        const t0 = performance.now();
        await service.sendMessageEvent({
          roomId,
          sender,
          type: 'm.room.message',
          content: { msgtype: 'm.text', body: `message ${seq++}` },
          txn: { scope: 'BENCH', txnId: `t${seq}` },
        });
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  latencies.sort((a, b) => a - b);
  console.log(
    [
      String(senders).padStart(7),
      String(roomCount).padStart(5),
      String(latencies.length).padStart(7),
      (latencies.length / elapsed).toFixed(0).padStart(9),
      percentile(latencies, 50).toFixed(2).padStart(8),
      percentile(latencies, 99).toFixed(2).padStart(8),
      ((cpu.user + cpu.system) / 1000 / latencies.length).toFixed(3).padStart(10),
    ].join('  '),
  );
}

console.log(`send bench: ${seconds}s per case, Postgres ${db.target.host}`);
// CPU: this process's (the service's) CPU per event; Postgres's is not included.
console.log('senders  rooms   events  events/s  p50 ms   p99 ms  cpu ms/ev');
for (const rooms of (process.env.BENCH_ROOMS ?? '1,10').split(',').map(Number)) {
  for (const senders of [1, 10, 50]) await run(senders, rooms);
}
await writer.flush();
await db.close();
