/**
 * GET /messages throughput on a 10 000-event room, over real HTTP against an embedded Postgres:
 * full backwards walks (limit 50) from the end, random-position pages (limit 20, both directions)
 * and lazy-loaded-member pages, one client and several concurrent ones. Run:
 *   node packages/room-api/bench/messages.bench.ts [events=10000]
 */
import { errors, silentLogger } from '@hs/core';
import { keyPairFromSeed } from '@hs/events';
import type { Requester } from '@hs/http';
import { startTestApp } from '@hs/http/testing';
import { RoomsService, createRoomsHandlers, roomsEndpoints } from '@hs/rooms';
import { StreamWriter } from '@hs/storage';
import { createTestDatabase } from '@hs/storage/testing';
import { createRoomApiHandlers } from '../src/handlers.ts';
import { roomApiEndpoints } from '../src/endpoints.ts';

const EVENTS = Number(process.argv[2] ?? 10_000);
const SERVER = 'bench.local';
const alice = `@alice:${SERVER}`;
const bob = `@bob:${SERVER}`;

const db = await createTestDatabase();
const writer = await StreamWriter.open(db.sql, 'events', 'bench', silentLogger);
const roomsDeps = {
  sql: db.sql,
  serverName: SERVER,
  log: silentLogger,
  notify: () => {},
  serverKey: { keyId: 'ed25519:b', secretKey: keyPairFromSeed(new Uint8Array(32).fill(3)).secretKey },
  eventsWriter: writer,
  getProfile: async () => ({}),
};
const rooms = new RoomsService(roomsDeps);
const app = await startTestApp({
  endpoints: [...roomsEndpoints, ...roomApiEndpoints],
  handlers: new Map([
    ...createRoomsHandlers(roomsDeps, rooms),
    ...createRoomApiHandlers({ sql: db.sql, serverName: SERVER, log: silentLogger, notify: () => {}, rooms, eventsPosition: () => writer.position }),
  ]),
  authenticate: async (req) => {
    const token = req.headers.authorization?.slice(7);
    if (!token) throw errors.missingToken();
    return { userId: token, deviceId: 'D', isGuest: false, isAdmin: false } satisfies Requester;
  },
});

const { roomId } = await rooms.createRoom(alice, { preset: 'public_chat' });
await rooms.updateMembership({ roomId, sender: bob, target: bob, action: 'join' });
let t = performance.now();
for (let sent = 0; sent < EVENTS; ) {
  const n = Math.min(250, EVENTS - sent);
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      rooms.sendMessageEvent({ roomId, sender: (sent + i) % 3 ? alice : bob, type: 'm.room.message', content: { msgtype: 'm.text', body: `message ${sent + i} ${'lorem ipsum '.repeat(4)}` } }),
    ),
  );
  sent += n;
}
console.log(`filled ${EVENTS} events in ${((performance.now() - t) / 1000).toFixed(1)} s`);
await db.sql`ANALYZE`;

const base = `${app.baseUrl}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages`;
async function page(query: string, user = alice): Promise<any> {
  const res = await fetch(`${base}?${query}`, { headers: { authorization: `Bearer ${user}` } });
  if (res.status !== 200) throw new Error(`${res.status} ${await res.text()}`);
  return res.json();
}

// Tokens spread over the room, to start random pages from.
const tokens: string[] = [];
{
  let from: string | undefined;
  for (;;) {
    const p = await page(`dir=b&limit=500${from ? `&from=${encodeURIComponent(from)}` : ''}`);
    if (!p.end) break;
    tokens.push(p.end);
    from = p.end;
  }
}

async function measure(label: string, clients: number, seconds: number, one: (i: number) => Promise<number>): Promise<void> {
  let pages = 0;
  let events = 0;
  const deadline = performance.now() + seconds * 1000;
  t = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = c; performance.now() < deadline; i += clients) {
        const n = await one(i);
        events += n;
        pages++;
      }
    }),
  );
  const s = (performance.now() - t) / 1000;
  console.log(`${label.padEnd(46)} ${(pages / s).toFixed(0).padStart(6)} pages/s  ${(events / s).toFixed(0).padStart(7)} events/s  (${clients} client${clients > 1 ? 's' : ''})`);
}

// One full backwards walk, timed on its own.
t = performance.now();
let walked = 0;
let walkPages = 0;
for (let from: string | undefined; ; walkPages++) {
  const p = await page(`dir=b&limit=50${from ? `&from=${encodeURIComponent(from)}` : ''}`);
  walked += p.chunk.length;
  if (!p.end) break;
  from = p.end;
}
const walkS = (performance.now() - t) / 1000;
console.log(`full backwards walk, limit 50: ${walked} events in ${walkPages + 1} pages, ${walkS.toFixed(2)} s (${((walkPages + 1) / walkS).toFixed(0)} pages/s)`);

const pick = (i: number) => tokens[(i * 7919) % tokens.length] as string;
for (const clients of [1, 8]) {
  await measure('random pages, dir=b, limit 20', clients, 3, async (i) => (await page(`dir=b&limit=20&from=${encodeURIComponent(pick(i))}`)).chunk.length);
  await measure('random pages, dir=f, limit 20', clients, 3, async (i) => (await page(`dir=f&limit=20&from=${encodeURIComponent(pick(i))}`)).chunk.length);
  await measure('latest page, limit 50, lazy_load_members', clients, 3, async () =>
    (await page(`dir=b&limit=50&filter=${encodeURIComponent(JSON.stringify({ lazy_load_members: true }))}`)).chunk.length,
  );
}

await app.close();
await writer.flush();
await db.close();
process.exit(0);
