/**
 * Notification counts through the whole server: push actions computed when events are persisted,
 * moved forward in /sync's memory, and an ignore list or a push rule (read by the push path from
 * caches that the account-data and push-rules streams invalidate) taking effect for the next message.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { JsonClient } from './support/json-client.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;
let client: JsonClient;
test.before(async () => {
  server = await startTestServer();
  client = new JsonClient(server.baseUrl, 8);
});
test.after(async () => {
  client?.close();
  await server?.stop();
});

async function register(name: string): Promise<{ token: string; userId: string }> {
  const first = await client.call(undefined, 'POST', '/_matrix/client/v3/register', { username: name, password: 'pw-' + name });
  const reg = await client.call(undefined, 'POST', '/_matrix/client/v3/register', { username: name, password: 'pw-' + name, auth: { type: 'm.login.dummy', session: first.session } });
  return { token: reg.access_token, userId: reg.user_id };
}

test('unread counts follow messages, an ignore list and a read receipt', async () => {
  const alice = await register('alice');
  const bob = await register('bob');
  const { room_id: room } = await client.call(alice.token, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat' });
  await client.call(bob.token, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(room)}`, {});
  const filter = encodeURIComponent(JSON.stringify({ room: { rooms: [room], timeline: { limit: 5 } } }));
  let since = (await client.call(alice.token, 'GET', `/_matrix/client/v3/sync?filter=${filter}`)).next_batch;
  let n = 0;
  const send = async () => (await client.call(bob.token, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/send/m.room.message/t${n++}`, { msgtype: 'm.text', body: `m${n}` })).event_id as string;
  const counts = async () => {
    const res = await client.call(alice.token, 'GET', `/_matrix/client/v3/sync?filter=${filter}&since=${since}&timeout=0`);
    since = res.next_batch;
    return res.rooms?.join?.[room]?.unread_notifications;
  };

  await send();
  assert.deepEqual(await counts(), { notification_count: 1, highlight_count: 0 });
  await client.call(alice.token, 'PUT', `/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/account_data/m.ignored_user_list`, { ignored_users: { [bob.userId]: {} } });
  await send();
  // Bob's message is hidden from Alice's timeline, and it does not count either.
  const hidden = await client.call(alice.token, 'GET', `/_matrix/client/v3/sync?filter=${filter}&since=${since}&timeout=0`);
  since = hidden.next_batch;
  assert.equal(hidden.rooms?.join?.[room]?.timeline?.events?.length ?? 0, 0);
  await client.call(alice.token, 'PUT', `/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/account_data/m.ignored_user_list`, { ignored_users: {} });
  const last = await send();
  assert.deepEqual(await counts(), { notification_count: 2, highlight_count: 0 }, 'counted again once unignored, the ignored one never');
  await client.call(alice.token, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/receipt/m.read/${encodeURIComponent(last)}`, {});
  await send();
  assert.deepEqual(await counts(), { notification_count: 1, highlight_count: 0 }, 'a receipt resets the count');
  // A push rule change reaches the push path at once (its cache follows the push_rules stream).
  const rule = `/_matrix/client/v3/pushrules/global/room/${encodeURIComponent(room)}`;
  await client.call(alice.token, 'PUT', rule, { actions: [] });
  await send();
  assert.deepEqual(await counts(), { notification_count: 1, highlight_count: 0 }, 'a muted room does not count');
  await client.call(alice.token, 'DELETE', rule);
  await send();
  assert.deepEqual(await counts(), { notification_count: 2, highlight_count: 0 }, 'unmuted, it counts again');
});
