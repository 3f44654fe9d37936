/**
 * `npm run bench:cs`: Client-Server load against a real single-process server (embedded Postgres).
 * N users in M rooms; S of them send messages while every user long-polls /sync. Reports persisted
 * events/s, send latency p50/p99, send → other-user /sync delivery latency p50/p99, and the server's RSS.
 *
 *   npm run bench:cs -- --users 200 --rooms 20 --senders 100 --seconds 20
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { startTestServer } from '../support/server.ts';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '200' },
    rooms: { type: 'string', default: '20' },
    senders: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '20' },
  },
});
const USERS = Number(values.users);
const ROOMS = Number(values.rooms);
const SENDERS = Math.min(Number(values.senders), USERS);
const SECONDS = Number(values.seconds);

const server = await startTestServer();
const base = server.baseUrl;

async function call(token: string | undefined, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(base + path, {
    method,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const json = (await res.json()) as any;
  if (res.status >= 400 && !(res.status === 401 && json.flows)) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number);
}

function serverRssMb(): number {
  const pid = server.process.child.pid;
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

try {
  console.log(`setting up ${USERS} users in ${ROOMS} rooms…`);
  const tokens: string[] = [];
  const userIds: string[] = [];
  for (let i = 0; i < USERS; i++) {
    const first = await call(undefined, 'POST', '/_matrix/client/v3/register', { username: `load${i}`, password: 'pw' });
    const reg = await call(undefined, 'POST', '/_matrix/client/v3/register', { username: `load${i}`, password: 'pw', auth: { type: 'm.login.dummy', session: first.session } });
    tokens.push(reg.access_token);
    userIds.push(reg.user_id);
  }
  const rooms: string[] = [];
  for (let r = 0; r < ROOMS; r++) rooms.push((await call(tokens[0], 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat' })).room_id);
  // Each user joins one room (users spread evenly), so every message has USERS/ROOMS recipients.
  const roomOf = (u: number) => rooms[u % ROOMS] as string;
  for (let u = 1; u < USERS; u++) await call(tokens[u], 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomOf(u))}`, {});

  const sentAt = new Map<string, number>();
  const delivery: number[] = [];
  const sendLatency: number[] = [];
  let sent = 0;
  let running = true;

  // Every user long-polls /sync; delivery is measured for messages sent by someone else.
  const syncers = tokens.map(async (token, u) => {
    let since = (await call(token, 'GET', '/_matrix/client/v3/sync?filter={"room":{"timeline":{"limit":50}}}')).next_batch;
    while (running) {
      const res = await call(token, 'GET', `/_matrix/client/v3/sync?timeout=5000&since=${since}&filter={"room":{"timeline":{"limit":50}}}`);
      const now = performance.now();
      since = res.next_batch;
      for (const room of Object.values<any>(res.rooms?.join ?? {})) {
        for (const ev of room.timeline?.events ?? []) {
          const t = sentAt.get(ev.content?.body);
          if (t !== undefined && ev.sender !== userIds[u]) delivery.push(now - t);
        }
      }
    }
  });

  const started = performance.now();
  const senders = Array.from({ length: SENDERS }, async (_, s) => {
    let n = 0;
    while (performance.now() - started < SECONDS * 1000) {
      const body = `s${s}-${n++}`;
      const t0 = performance.now();
      sentAt.set(body, t0);
      await call(tokens[s], 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomOf(s))}/send/m.room.message/${body}`, { msgtype: 'm.text', body });
      sendLatency.push(performance.now() - t0);
      sent++;
    }
  });
  let rssPeak = 0;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, serverRssMb())), 500);
  await Promise.all(senders);
  const elapsed = (performance.now() - started) / 1000;
  running = false;
  clearInterval(sampler);
  await Promise.race([Promise.all(syncers), new Promise((r) => setTimeout(r, 6000))]);

  console.log(`users ${USERS}, rooms ${ROOMS}, senders ${SENDERS}, ${elapsed.toFixed(1)} s`);
  console.log(`persisted events/s: ${(sent / elapsed).toFixed(0)} (${sent} messages)`);
  console.log(`send latency ms: p50 ${pct(sendLatency, 50).toFixed(1)}, p99 ${pct(sendLatency, 99).toFixed(1)}`);
  console.log(`delivery to other users' /sync ms: p50 ${pct(delivery, 50).toFixed(1)}, p99 ${pct(delivery, 99).toFixed(1)} (${delivery.length} deliveries)`);
  console.log(`server RSS: peak ${rssPeak.toFixed(0)} MB, now ${serverRssMb().toFixed(0)} MB`);
} finally {
  await server.stop();
}
