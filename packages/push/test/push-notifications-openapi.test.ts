/**
 * Response shapes of GET /notifications, GET /pushers and POST /pushers/set against the spec's
 * OpenAPI (notifications.yaml, pusher.yaml), read from /work/shared when it exists. Skips loudly without it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { shapeErrors, specPresent } from '../../../e2e/support/openapi.ts';
import { startRoomsEnv, u, type RoomsEnv } from './rooms-support.ts';

const available = specPresent('/notifications and /pushers shape checks', 'notifications.yaml', 'pusher.yaml');

/** `check(path, method, status, body)` against one spec file: the mismatch, or null. */
const responseChecker = (file: string) => (apiPath: string, method: string, status: string, body: unknown) => shapeErrors(file, apiPath, method, status, body);

let env: RoomsEnv;
const alice = u('alice');
const bob = u('bob');

before(async () => {
  if (available) env = await startRoomsEnv();
});
after(async () => {
  await env?.close();
});

test('GET /notifications matches the spec', { skip: !available }, async () => {
  const check = responseChecker('notifications.yaml');
  const room = (await env.rooms.createRoom(alice, { preset: 'public_chat', room_version: '11', name: 'shapes' })).roomId;
  await env.join(room, bob);
  await env.send(room, alice, { msgtype: 'm.text', body: 'plain' });
  const first = await env.send(room, alice, { msgtype: 'm.text', body: 'hey', 'm.mentions': { user_ids: [bob] } });
  await env.read(bob, room, first);
  await env.send(room, alice, { body: 'x' }, 'm.room.encrypted');
  const full = await env.call(bob, 'GET', '/_matrix/client/v3/notifications?limit=2');
  assert.equal(full.status, 200);
  assert.equal(full.json.notifications.length, 2);
  assert.ok(full.json.next_token);
  assert.equal(check('/notifications', 'get', '200', full.json), null);
  const rest = await env.call(bob, 'GET', `/_matrix/client/v3/notifications?from=${full.json.next_token}`);
  assert.equal(check('/notifications', 'get', '200', rest.json), null);
  const empty = await env.call(alice, 'GET', '/_matrix/client/v3/notifications');
  assert.equal(check('/notifications', 'get', '200', empty.json), null);
  // The checker is not vacuous.
  const broken = structuredClone(full.json);
  delete broken.notifications[0].read;
  assert.notEqual(check('/notifications', 'get', '200', broken), null);
});

test('GET /pushers and POST /pushers/set match the spec', { skip: !available }, async () => {
  const check = responseChecker('pusher.yaml');
  const body = {
    kind: 'http',
    app_id: 'com.example.app',
    pushkey: 'k1',
    app_display_name: 'App',
    device_display_name: 'Phone',
    profile_tag: 'p',
    lang: 'en-US',
    data: { url: 'https://gw.example.com/_matrix/push/v1/notify', format: 'event_id_only' },
  };
  const set = await env.call(alice, 'POST', '/_matrix/client/v3/pushers/set', body);
  assert.equal(check('/pushers/set', 'post', '200', set.json), null);
  const bad = await env.call(alice, 'POST', '/_matrix/client/v3/pushers/set', { ...body, lang: undefined });
  assert.equal(bad.status, 400);
  assert.equal(check('/pushers/set', 'post', '400', bad.json), null);
  await env.call(alice, 'POST', '/_matrix/client/v3/pushers/set', { ...body, pushkey: 'k2', profile_tag: undefined });
  const got = await env.call(alice, 'GET', '/_matrix/client/v3/pushers');
  assert.equal(got.json.pushers.length, 2);
  assert.equal(check('/pushers', 'get', '200', got.json), null);
  const broken = structuredClone(got.json);
  delete broken.pushers[0].app_id;
  assert.notEqual(check('/pushers', 'get', '200', broken), null);
});
