/**
 * /sync figures over real HTTP on the test harness (embedded Postgres, every domain's real handlers):
 *  1. initial sync of a user in 500 rooms (each: 2 members, a name, ~20 events), p50/p99;
 *  2. an incremental sync with nothing new, p50/p99;
 *  3. send → sync delivery latency with 200 clients long-polling: (a) each in its own room, messages
 *     sent one at a time at random; (b) all 200 in one room, each message waking all of them.
 * Run: node packages/sync/bench/sync.bench.ts [rooms=500] [clients=200]
 */
import { startHarness, V3, type Harness, type TestUser } from '../test/harness.ts';

const ROOMS = Number(process.argv[2] ?? 500);
const CLIENTS = Number(process.argv[3] ?? 200);

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
}
const fmt = (values: number[]) => `p50 ${pct(values, 50).toFixed(1)} ms, p99 ${pct(values, 99).toFixed(1)} ms, max ${Math.max(...values).toFixed(1)} ms (n=${values.length})`;

async function pool<T>(items: readonly T[], n: number, work: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        await work(items[i] as T, i);
      }
    }),
  );
}

async function rawSync(h: Harness, user: TestUser, query: string): Promise<{ body: any; bytes: number }> {
  const res = await fetch(`${h.app.baseUrl}${V3}/sync${query}`, { headers: { authorization: `Bearer ${user.token}` } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`sync ${res.status}: ${text}`);
  return { body: JSON.parse(text), bytes: text.length };
}

async function initialAndIdle(h: Harness): Promise<void> {
  const alice = await h.register('alice');
  const bob = await h.register('bob');
  const t0 = performance.now();
  const rooms: string[] = [];
  await pool(
    Array.from({ length: ROOMS }, (_, i) => i),
    8,
    async (i) => {
      const roomId = await h.createRoom(bob, { preset: 'public_chat', name: `Room ${i}`, topic: `Topic ${i}` });
      const j = await h.call(alice, 'POST', `${V3}/join/${encodeURIComponent(roomId)}`, {});
      if (j.status !== 200) throw new Error(JSON.stringify(j.json));
      for (let m = 0; m < 10; m++) await h.send(m % 3 ? bob : alice, roomId, `message ${m} in room ${i}`);
      rooms.push(roomId);
    },
  );
  console.log(`setup: ${ROOMS} rooms with 2 members and 10 messages each in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  // Warm-up (caches, JIT), then measured runs.
  let first = await rawSync(h, alice, '');
  if (Object.keys(first.body.rooms.join).length !== ROOMS) throw new Error(`expected ${ROOMS} joined rooms, got ${Object.keys(first.body.rooms.join).length}`);
  const initial: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t = performance.now();
    first = await rawSync(h, alice, '');
    initial.push(performance.now() - t);
  }
  console.log(`initial sync, ${ROOMS} rooms (${(first.bytes / 1024).toFixed(0)} KiB): ${fmt(initial)}`);
  const lazy: number[] = [];
  const llFilter = encodeURIComponent(JSON.stringify({ room: { state: { lazy_load_members: true } } }));
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    await rawSync(h, alice, `?filter=${llFilter}`);
    lazy.push(performance.now() - t);
  }
  console.log(`initial sync with lazy-loaded members: ${fmt(lazy)}`);

  const since = first.body.next_batch as string;
  const idle: number[] = [];
  for (let i = 0; i < 300; i++) {
    const t = performance.now();
    const r = await rawSync(h, alice, `?since=${since}&timeout=0`);
    idle.push(performance.now() - t);
    if (r.body.rooms) throw new Error('idle sync was not empty');
  }
  console.log(`incremental sync, nothing new (${ROOMS} rooms): ${fmt(idle)}`);

  const one: number[] = [];
  let s = since;
  for (let i = 0; i < 50; i++) {
    await h.send(bob, rooms[i % rooms.length] as string, `tick ${i}`);
    const t = performance.now();
    const r = await rawSync(h, alice, `?since=${s}&timeout=0`);
    one.push(performance.now() - t);
    s = r.body.next_batch;
  }
  console.log(`incremental sync, one new message (${ROOMS} rooms): ${fmt(one)}`);
}

async function longPolls(h: Harness): Promise<void> {
  const sender = await h.register('sender');
  const users: TestUser[] = [];
  await pool(
    Array.from({ length: CLIENTS }, (_, i) => i),
    8,
    async (i) => {
      users[i] = await h.register(`client${i}`);
    },
  );
  const own: string[] = [];
  await pool(users, 8, async (u, i) => {
    const roomId = await h.createRoom(sender, { preset: 'public_chat', name: `DM ${i}` });
    await h.call(u, 'POST', `${V3}/join/${encodeURIComponent(roomId)}`, {});
    own[i] = roomId;
  });
  const big = await h.createRoom(sender, { preset: 'public_chat', name: 'Everyone' });
  await pool(users, 8, async (u) => {
    await h.call(u, 'POST', `${V3}/join/${encodeURIComponent(big)}`, {});
  });

  // Each client long-polls in a loop and records when each event reaches it.
  const received = new Map<string, number[]>(); // event ID → arrival times
  let running = true;
  const loops = users.map(async (u) => {
    let since = (await rawSync(h, u, '?filter=' + encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 50 } } })))).body.next_batch as string;
    while (running) {
      const r = await rawSync(h, u, `?since=${since}&timeout=5000`);
      const now = performance.now();
      since = r.body.next_batch;
      for (const room of Object.values(r.body.rooms?.join ?? {}) as any[]) {
        for (const e of room.timeline.events) (received.get(e.event_id) ?? received.set(e.event_id, []).get(e.event_id))?.push(now);
      }
    }
  });
  const started = performance.now();
  const deadline = Date.now() + 120_000;
  while (h.notifier.waitingCount < CLIENTS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  console.log(`${h.notifier.waitingCount} clients long-polling (their initial syncs took ${((performance.now() - started) / 1000).toFixed(1)} s together)`);
  await new Promise((r) => setTimeout(r, 500));

  // (a) one message at a time into a random client's own room.
  const single: number[] = [];
  for (let i = 0; i < 100; i++) {
    const target = Math.floor(Math.random() * CLIENTS);
    const t = performance.now();
    const id = await h.send(sender, own[target] as string, `single ${i}`);
    const sentAt = performance.now();
    while (!(received.get(id)?.length) && performance.now() - sentAt < 5000) await new Promise((r) => setImmediate(r));
    const at = received.get(id)?.[0];
    if (at !== undefined) single.push(at - t);
    await new Promise((r) => setTimeout(r, 10));
  }
  console.log(`send → sync delivery, ${CLIENTS} long-polls, one room woken per send (from send start): ${fmt(single)}`);

  // (b) fan-out: every message wakes all clients.
  const fan: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    const id = await h.send(sender, big, `fan-out ${i}`);
    const wait = performance.now();
    while ((received.get(id)?.length ?? 0) < CLIENTS && performance.now() - wait < 15_000) await new Promise((r) => setTimeout(r, 5));
    for (const at of received.get(id) ?? []) fan.push(at - t);
    await new Promise((r) => setTimeout(r, 300));
  }
  console.log(`send → sync delivery, one message waking all ${CLIENTS} long-polls: ${fmt(fan)}`);
  running = false;
  await h.send(sender, big, 'stop');
  await Promise.all(loops);
}

const h = await startHarness();
try {
  await initialAndIdle(h);
  await longPolls(h);
} finally {
  await h.close();
}
