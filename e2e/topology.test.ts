/**
 * The scaled topology end to end: main + 2 generic workers + 2 event persisters + a writer for typing,
 * to-device, receipts, account data and presence, sharing Redis, behind nginx configured by
 * `homeserver routes`. The same matrix-js-sdk scenario as the single-process suite runs through nginx,
 * E2EE included; then the work is checked to have been done where the configuration put it.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import postgres from 'postgres';
import { EmbeddedPostgres } from '@hs/storage';
import { chatScenario } from './support/chat-scenario.ts';
import { Fleet } from './support/fleet.ts';

let fleet: Fleet;

test.before(async () => {
  fleet = await Fleet.start({ genericWorkers: 2, eventPersisters: 2, streamWriter: true });
});

chatScenario(() => fleet.baseUrl);

async function call(token: string | undefined, method: string, p: string, body?: unknown): Promise<any> {
  const res = await fetch(fleet.baseUrl + p, {
    method,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as any;
  if (res.status >= 400 && !(res.status === 401 && json.flows)) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

test('the work was done where the configuration put it', async () => {
  // Rooms spread over both persisters by the stable hash of their IDs.
  const first = await call(undefined, 'POST', '/_matrix/client/v3/register', { username: 'spreader', password: 'pw' });
  const reg = await call(undefined, 'POST', '/_matrix/client/v3/register', { username: 'spreader', password: 'pw', auth: { type: 'm.login.dummy', session: first.session } });
  for (let i = 0; i < 16; i++) await call(reg.access_token, 'POST', '/_matrix/client/v3/createRoom', { name: `room ${i}` });

  const target = EmbeddedPostgres.attachTarget(path.join(fleet.dir, 'postgres'));
  assert.ok(target, 'the embedded database is reachable');
  const sql = postgres({ host: target.host, port: target.port, user: target.user, password: target.password, database: target.database, max: 1 });
  try {
    const rows = await sql<{ instance_name: string; n: number }[]>`SELECT instance_name, count(*)::int AS n FROM events GROUP BY 1`;
    const by = new Map(rows.map((r) => [r.instance_name, r.n]));
    assert.deepEqual([...by.keys()].sort(), ['persister1', 'persister2'], `events were persisted by ${JSON.stringify(rows)}`);
  } finally {
    await sql.end();
  }

  const count = (name: string, servlet: string) => fleet.requestCount(name, servlet);
  // The pool is every generic worker with a client listener: the stream writer takes its share too.
  const pool = ['generic1', 'generic2', 'writer1'];
  const onPool = async (servlet: string) => {
    let n = 0;
    for (const w of pool) n += await count(w, servlet);
    return n;
  };
  assert.ok((await onPool('sync')) > 0, 'generic workers served /sync');
  assert.equal(await count('main', 'sync'), 0, 'main served no /sync');
  assert.ok((await onPool('room_send')) > 0, 'generic workers took the sends');
  assert.equal(await count('main', 'room_send'), 0, 'main took no sends');
  assert.ok((await count('writer1', 'typing_set')) > 0, 'typing went to its writer');
  assert.ok((await count('writer1', 'receipt_send')) > 0, 'receipts went to their writer');
  assert.equal(await count('main', 'typing_set'), 0);
});

test('sync and pagination tokens issued by one worker are valid on another', async () => {
  const first = await call(undefined, 'POST', '/_matrix/client/v3/register', { username: 'roamer', password: 'pw' });
  const reg = await call(undefined, 'POST', '/_matrix/client/v3/register', { username: 'roamer', password: 'pw', auth: { type: 'm.login.dummy', session: first.session } });
  const on = async (worker: string, p: string, init: RequestInit = {}): Promise<any> => {
    const res = await fetch(`http://127.0.0.1:${fleet.clientPort(worker)}${p}`, { ...init, headers: { authorization: `Bearer ${reg.access_token}` } });
    const json = await res.json();
    assert.equal(res.status, 200, `${worker} ${p}: ${JSON.stringify(json)}`);
    return json;
  };
  const room = (await on('generic1', '/_matrix/client/v3/createRoom', { method: 'POST', body: '{}' })).room_id as string;
  const since = (await on('generic1', '/_matrix/client/v3/sync')).next_batch as string;
  for (let i = 0; i < 5; i++) {
    await on(i % 2 ? 'generic1' : 'generic2', `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/send/m.room.message/roam${i}`, {
      method: 'PUT',
      body: JSON.stringify({ msgtype: 'm.text', body: `roam ${i}` }),
    });
  }
  // generic2 continues generic1's sync where it left off, and sees every message once.
  const next = await on('generic2', `/_matrix/client/v3/sync?since=${encodeURIComponent(since)}&timeout=5000`);
  const bodies = (next.rooms?.join?.[room]?.timeline?.events ?? []).map((e: any) => e.content?.body);
  assert.deepEqual(bodies, [0, 1, 2, 3, 4].map((i) => `roam ${i}`));
  // A pagination token from one worker pages on another.
  const page1 = await on('generic1', `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/messages?dir=b&limit=2`);
  const page2 = await on('writer1', `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/messages?dir=b&limit=2&from=${encodeURIComponent(page1.end)}`);
  assert.deepEqual(
    [...page1.chunk, ...page2.chunk].filter((e: any) => e.type === 'm.room.message').map((e: any) => e.content.body),
    ['roam 4', 'roam 3', 'roam 2', 'roam 1'],
  );
});

test('a logout on main revokes the token on every worker at once', async () => {
  const first = await call(undefined, 'POST', '/_matrix/client/v3/register', { username: 'leaver', password: 'pw' });
  const reg = await call(undefined, 'POST', '/_matrix/client/v3/register', { username: 'leaver', password: 'pw', auth: { type: 'm.login.dummy', session: first.session } });
  const whoami = (worker: string): Promise<Response> =>
    fetch(`http://127.0.0.1:${fleet.clientPort(worker)}/_matrix/client/v3/account/whoami`, { headers: { authorization: `Bearer ${reg.access_token}` } });
  // Both workers have the token cached now.
  for (const w of ['generic1', 'generic2']) {
    const res = await whoami(w);
    assert.equal(res.status, 200, `${w}: ${await res.text()}`);
  }
  // Logout is main's (as in Synapse); the workers only hear of it.
  const out = await fetch(`${fleet.baseUrl}/_matrix/client/v3/logout`, {
    method: 'POST',
    headers: { authorization: `Bearer ${reg.access_token}` },
    body: '{}',
  });
  assert.equal(out.status, 200);
  // Well inside the token cache's 10 s lifetime: only the invalidation can make these 401.
  for (const w of ['generic1', 'generic2']) {
    const deadline = Date.now() + 2000;
    let status = 200;
    while (Date.now() < deadline && (status = (await whoami(w)).status) === 200) await new Promise((r) => setTimeout(r, 20));
    assert.equal(status, 401, `${w} refuses the revoked token`);
  }
});

test.after(async () => {
  await fleet?.stop();
});
