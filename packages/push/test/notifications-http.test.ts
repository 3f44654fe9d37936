/** GET /notifications over HTTP: order, pagination, only=highlight, read flags, errors. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '@hs/core';
import { startTestApp } from '@hs/http/testing';
import { createPushNotificationHandlers, pushNotificationEndpoints } from '../src/index.ts';
import { startRoomsEnv, u, type RoomsEnv } from './rooms-support.ts';
import { authenticate } from './support.ts';

let env: RoomsEnv;
const alice = u('alice');
const bob = u('bob');
const carol = u('carol');
let room: string;
let other: string;
const sent: string[] = [];
let mention: string;
let threadRoot: string;
let threaded: string;

before(async () => {
  env = await startRoomsEnv();
  room = (await env.rooms.createRoom(alice, { preset: 'public_chat', room_version: '11' })).roomId;
  other = (await env.rooms.createRoom(carol, { preset: 'public_chat', room_version: '11' })).roomId;
  await env.join(room, bob);
  await env.join(other, bob);
  for (let i = 0; i < 5; i++) sent.push(await env.send(room, alice, { msgtype: 'm.text', body: `m${i}` }));
  mention = await env.send(other, carol, { msgtype: 'm.text', body: 'hi bob', 'm.mentions': { user_ids: [bob] } });
  threadRoot = sent[0] as string;
  threaded = await env.send(room, alice, { msgtype: 'm.text', body: 'in thread', 'm.relates_to': { rel_type: 'm.thread', event_id: threadRoot } });
  await env.send(room, alice, { msgtype: 'm.notice', body: 'not a notification' });
});
after(async () => {
  await env?.close();
  assert.deepEqual(env.hookErrors, []);
});

const N = '/_matrix/client/v3/notifications';

test('newest first across rooms, with the event, actions, room, ts and read flag', async () => {
  const r = await env.call(bob, 'GET', N);
  assert.equal(r.status, 200);
  const ids = r.json.notifications.map((n: any) => n.event.event_id);
  assert.deepEqual(ids, [threaded, mention, ...[...sent].reverse()]);
  assert.equal(r.json.next_token, undefined, 'a short page is the last one');
  const first = r.json.notifications[1];
  assert.equal(first.room_id, other);
  assert.deepEqual(first.actions, ['notify', { set_tweak: 'sound', value: 'default' }, { set_tweak: 'highlight' }]);
  assert.equal(first.read, false);
  assert.equal(typeof first.ts, 'number');
  assert.equal(first.event.type, 'm.room.message');
  assert.equal(first.event.sender, carol);
  assert.deepEqual(first.event.content, { msgtype: 'm.text', body: 'hi bob', 'm.mentions': { user_ids: [bob] } });
  assert.equal(first.event.room_id, undefined, 'the event comes without room_id; room_id is beside it');
  assert.equal((await env.call(alice, 'GET', N)).json.notifications.length, 0, "the sender has none for her own messages");
});

test('pagination with from/limit walks every notification exactly once', async () => {
  const seen: string[] = [];
  let from: string | undefined;
  for (let i = 0; i < 10; i++) {
    const r = await env.call(bob, 'GET', `${N}?limit=2${from ? `&from=${from}` : ''}`);
    assert.equal(r.status, 200);
    seen.push(...r.json.notifications.map((n: any) => n.event.event_id));
    from = r.json.next_token;
    if (from === undefined) break;
    assert.equal(r.json.notifications.length, 2);
  }
  assert.deepEqual(seen, [threaded, mention, ...[...sent].reverse()]);
  assert.deepEqual((await env.call(bob, 'GET', `${N}?limit=0`)).json, { notifications: [] });
});

test('only=highlight returns highlights only', async () => {
  const r = await env.call(bob, 'GET', `${N}?only=highlight`);
  assert.deepEqual(r.json.notifications.map((n: any) => n.event.event_id), [mention]);
});

test('read follows receipts: unthreaded ones cover all threads, threaded ones their thread', async () => {
  await env.read(bob, room, sent[2] as string, { threadId: 'main' });
  let r = await env.call(bob, 'GET', N);
  const readOf = () => Object.fromEntries(r.json.notifications.map((n: any) => [n.event.event_id, n.read]));
  assert.deepEqual(readOf(), {
    [threaded]: false,
    [mention]: false,
    [sent[4] as string]: false,
    [sent[3] as string]: false,
    [sent[2] as string]: true,
    [sent[1] as string]: true,
    [sent[0] as string]: true,
  });
  await env.read(bob, room, threaded);
  r = await env.call(bob, 'GET', N);
  assert.equal(readOf()[threaded], true);
  assert.equal(readOf()[sent[4] as string], true);
  assert.equal(readOf()[mention], false, 'another room');
});

test('bad parameters are 400s, guests are refused, and no token is 401', async () => {
  for (const q of ['from=abc', 'from=-1', 'limit=x', 'limit=-5']) {
    const r = await env.call(bob, 'GET', `${N}?${q}`);
    assert.equal(r.status, 400, q);
    assert.equal(r.json.errcode, 'M_INVALID_PARAM');
  }
  assert.equal((await env.call(`guest:${bob}`, 'GET', N)).status, 403);
  const anon = await fetch(env.app.baseUrl + N);
  assert.equal(anon.status, 401);
});

test('the list looks back only notificationsLookbackMs', async () => {
  const handlers = createPushNotificationHandlers({
    sql: env.db.sql,
    log: silentLogger,
    notify: () => {},
    serverName: 'push.test',
    notificationsLookbackMs: 1_000,
    clock: () => Date.now() + 60_000,
  });
  const app = await startTestApp({ endpoints: pushNotificationEndpoints, handlers, authenticate });
  try {
    const res = await fetch(`${app.baseUrl}${N}`, { headers: { authorization: `Bearer ${bob}` } });
    assert.deepEqual(await res.json(), { notifications: [] }, 'everything is older than a second, a minute from now');
  } finally {
    await app.close();
  }
  const recent = await fetch(`${env.app.baseUrl}${N}`, { headers: { authorization: `Bearer ${bob}` } });
  assert.equal(((await recent.json()) as { notifications: unknown[] }).notifications.length, 7, 'the default looks back 30 days');
});
