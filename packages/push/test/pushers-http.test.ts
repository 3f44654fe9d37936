/** GET /pushers and POST /pushers/set over HTTP, the pushers stream, and the readers the pusher worker uses. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '@hs/core';
import { StreamWriter } from '@hs/storage';
import { createLocalPushersWriter, getPusherChanges, getPushersForUsers } from '../src/index.ts';
import { startRoomsEnv, u, type RoomsEnv } from './rooms-support.ts';

let env: RoomsEnv;
const alice = u('alice');
const bob = u('bob');
const P = '/_matrix/client/v3/pushers';
const URL_OK = 'https://push.example.org/_matrix/push/v1/notify';

before(async () => {
  env = await startRoomsEnv();
});
after(async () => {
  await env?.close();
});

function pusher(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    kind: 'http',
    app_id: 'org.example.app.ios',
    pushkey: 'PUSHKEY-1',
    app_display_name: 'Example',
    device_display_name: "Alice's phone",
    lang: 'en',
    data: { url: URL_OK, format: 'event_id_only', custom: { nested: true } },
    ...extra,
  };
}

const set = (user: string, body: unknown) => env.call(user, 'POST', `${P}/set`, body);
const list = async (user: string) => (await env.call(user, 'GET', P)).json.pushers as Record<string, unknown>[];

test('set, read back, update in place and delete with kind null', async () => {
  assert.deepEqual(await list(alice), []);
  const before = env.changes.length;
  let r = await set(alice, pusher({ profile_tag: 'tag1' }));
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, {});
  const change = env.changes.slice(before).find((c) => c.stream === 'pushers');
  assert.deepEqual(change?.users, [alice]);
  assert.deepEqual(await list(alice), [
    {
      pushkey: 'PUSHKEY-1',
      kind: 'http',
      app_id: 'org.example.app.ios',
      app_display_name: 'Example',
      device_display_name: "Alice's phone",
      lang: 'en',
      data: { url: URL_OK, format: 'event_id_only', custom: { nested: true } },
      profile_tag: 'tag1',
    },
  ]);
  r = await set(alice, pusher({ device_display_name: 'Renamed', lang: 'fr' }));
  assert.equal(r.status, 200);
  const after = await list(alice);
  assert.equal(after.length, 1, 'same app_id and pushkey: updated, not added');
  assert.equal(after[0]?.device_display_name, 'Renamed');
  assert.equal(after[0]?.lang, 'fr');
  assert.equal(after[0]?.profile_tag, undefined);

  r = await set(alice, { kind: null, app_id: 'org.example.app.ios', pushkey: 'PUSHKEY-1' });
  assert.equal(r.status, 200);
  assert.deepEqual(await list(alice), []);
  r = await set(alice, { kind: null, app_id: 'org.example.app.ios', pushkey: 'PUSHKEY-1' });
  assert.equal(r.status, 200, 'removing a pusher that is not there is fine');
});

test('without append, the same app_id and pushkey is taken from other users; with append both keep it', async () => {
  await set(alice, pusher({ pushkey: 'SHARED' }));
  await set(bob, pusher({ pushkey: 'SHARED' }));
  assert.deepEqual(await list(alice), [], "bob's set removed alice's pusher");
  assert.equal((await list(bob)).length, 1);
  const before = env.changes.length;
  await set(alice, pusher({ pushkey: 'SHARED', append: true }));
  assert.equal((await list(alice)).length, 1);
  assert.equal((await list(bob)).length, 1, 'append keeps the other user');
  assert.deepEqual(env.changes.slice(before).find((c) => c.stream === 'pushers')?.users, [alice]);
  // A second pusher of the same user (different pushkey) is added alongside.
  await set(alice, pusher({ pushkey: 'OTHER' }));
  assert.deepEqual((await list(alice)).map((p) => p.pushkey).sort(), ['OTHER', 'SHARED']);
});

test('the pushers stream and the readers for the pusher worker', async () => {
  const users = await getPushersForUsers(env.db.sql, [alice, bob, u('nobody')]);
  assert.deepEqual([...users.keys()].sort(), [alice, bob]);
  const mine = users.get(alice)?.find((p) => p.pushkey === 'OTHER');
  assert.equal(mine?.deviceId, 'DEV');
  assert.equal(mine?.enabled, true);
  assert.equal(mine?.kind, 'http');
  assert.equal(typeof mine?.lastStreamOrdering, 'number');
  const all = await getPusherChanges(env.db.sql, 0, Number.MAX_SAFE_INTEGER);
  assert.ok(all.some((c) => c.op === 'delete' && c.userId === alice && c.pushkey === 'PUSHKEY-1'));
  assert.ok(all.some((c) => c.op === 'delete' && c.userId === alice && c.pushkey === 'SHARED'));
  assert.ok(all.some((c) => c.op === 'set' && c.pusher.userId === bob));
  assert.deepEqual(
    all.map((c) => c.streamId),
    [...all.map((c) => c.streamId)].sort((a, b) => a - b),
  );
  const last = Math.max(...all.map((c) => c.streamId));
  assert.deepEqual(await getPusherChanges(env.db.sql, last, last + 10), []);

  // Removing a device's pushers (logout) goes through the stream too.
  const writer = createLocalPushersWriter({
    sql: env.db.sql,
    writer: await StreamWriter.open(env.db.sql, 'pushers', 'test2', silentLogger),
    notify: () => {},
    log: silentLogger,
  });
  const position = await writer.removePushersForDevices(alice, ['DEV']);
  assert.ok(position !== null && position > last);
  assert.deepEqual(await list(alice), []);
  assert.equal(await writer.removePushersForDevices(alice, ['DEV']), null);
  assert.equal((await list(bob)).length, 1);
});

test('validation: email and unknown kinds, gateway URL, length limits, text', async () => {
  const cases: Array<[string, unknown, number, string]> = [
    ['email kind', pusher({ kind: 'email', app_id: 'm.email', pushkey: 'a@example.org' }), 400, 'M_INVALID_PARAM'],
    ['unknown kind', pusher({ kind: 'webpush' }), 400, 'M_INVALID_PARAM'],
    ['no url', pusher({ data: { format: 'event_id_only' } }), 400, 'M_MISSING_PARAM'],
    ['relative url', pusher({ data: { url: '/_matrix/push/v1/notify' } }), 400, 'M_MISSING_PARAM'],
    ['wrong scheme', pusher({ data: { url: 'ftp://push.example.org/_matrix/push/v1/notify' } }), 400, 'M_MISSING_PARAM'],
    ['wrong path', pusher({ data: { url: 'https://push.example.org/notify' } }), 400, 'M_MISSING_PARAM'],
    ['path prefix', pusher({ data: { url: 'https://push.example.org/gw/_matrix/push/v1/notify' } }), 400, 'M_MISSING_PARAM'],
    ['app_id too long', pusher({ app_id: 'a'.repeat(65) }), 400, 'M_INVALID_PARAM'],
    ['pushkey too long', pusher({ pushkey: 'é'.repeat(257) }), 400, 'M_INVALID_PARAM'],
    ['NUL in pushkey', pusher({ pushkey: 'a\u0000b' }), 400, 'M_INVALID_PARAM'],
    ['lone surrogate in data', pusher({ data: { url: URL_OK, x: '\ud800' } }), 400, 'M_INVALID_PARAM'],
  ];
  for (const [what, body, status, errcode] of cases) {
    const r = await set(alice, body);
    assert.equal(r.status, status, `${what}: ${JSON.stringify(r.json)}`);
    assert.equal(r.json.errcode, errcode, what);
  }
  assert.equal((await set(alice, pusher({ app_id: 'a'.repeat(64), pushkey: 'é'.repeat(256) }))).status, 200, 'limits are inclusive');
  assert.equal((await set(alice, pusher({ data: { url: 'http://localhost:5000/_matrix/push/v1/notify?x=1' } }))).status, 200, 'http and a query are allowed');
});

test('malformed bodies are 4xx, never 5xx', async () => {
  const cases: Array<[string, unknown, string]> = [
    ['not JSON', '{"kind": ', 'M_NOT_JSON'],
    ['array body', '[]', 'M_BAD_JSON'],
    ['missing kind', { app_id: 'a', pushkey: 'k' }, 'M_MISSING_PARAM'],
    ['missing app_id', { kind: null, pushkey: 'k' }, 'M_MISSING_PARAM'],
    ['missing pushkey', { kind: null, app_id: 'a' }, 'M_MISSING_PARAM'],
    ['http without lang and data', { kind: 'http', app_id: 'a', pushkey: 'k', app_display_name: 'x', device_display_name: 'y' }, 'M_MISSING_PARAM'],
    ['kind a number', pusher({ kind: 7 }), 'M_BAD_JSON'],
    ['data a string', pusher({ data: 'https://x' }), 'M_BAD_JSON'],
    ['url a number', pusher({ data: { url: 5 } }), 'M_BAD_JSON'],
    ['append a string', pusher({ append: 'yes' }), 'M_BAD_JSON'],
    ['lang null', pusher({ lang: null }), 'M_BAD_JSON'],
  ];
  for (const [what, body, errcode] of cases) {
    const r = await set(alice, body);
    assert.ok(r.status >= 400 && r.status < 500, `${what}: ${r.status}`);
    assert.equal(r.json.errcode, errcode, `${what}: ${JSON.stringify(r.json)}`);
  }
  assert.equal((await env.call(`guest:${alice}`, 'POST', `${P}/set`, pusher())).status, 403);
  assert.equal((await env.call(`guest:${alice}`, 'GET', P)).status, 403);
});
