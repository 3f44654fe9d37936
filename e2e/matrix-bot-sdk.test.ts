/**
 * A real bot against the real server: a matrix-bot-sdk `MatrixClient` (no end-to-end encryption) with
 * `AutojoinRoomsMixin` is invited by a human, joins by itself, and answers commands from its
 * `room.message` handler: `!echo <text>` is echoed back (and the command gets a reaction), `!topic` reads
 * the room's topic with `getRoomStateEvent` and answers with a notice. The human, speaking plain HTTP,
 * sees all of it through /sync.
 *
 * matrix-bot-sdk loads its native crypto module (`@matrix-org/matrix-sdk-crypto-nodejs`) when imported,
 * even when no crypto store is given. That module's binary is downloaded from GitHub by an install
 * script, which this project does not run (registries only), so the test resolves it to an empty
 * stand-in: the SDK only touches it when a crypto store is configured, which this bot does not do.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { registerHooks } from 'node:module';
import type { MatrixClient } from 'matrix-bot-sdk';
import { startTestServer, type TestServer } from './support/server.ts';

const CRYPTO_MODULE = '@matrix-org/matrix-sdk-crypto-nodejs';
const CRYPTO_STANDIN = 'hs-e2e:matrix-sdk-crypto-nodejs';
registerHooks({
  resolve: (specifier, context, next) =>
    specifier === CRYPTO_MODULE ? { url: CRYPTO_STANDIN, format: 'commonjs', shortCircuit: true } : next(specifier, context),
  load: (url, context, next) =>
    url === CRYPTO_STANDIN ? { format: 'commonjs', source: 'module.exports = {};', shortCircuit: true } : next(url, context),
});
const { AutojoinRoomsMixin, LogLevel, LogService, MatrixClient: BotClient, MemoryStorageProvider } = await import('matrix-bot-sdk');
LogService.setLevel(LogLevel.ERROR);
// It logs every non-2xx answer (the m.direct look-up at start is an expected 404); failures throw anyway.
LogService.muteModule('MatrixHttpClient');

interface Account {
  readonly userId: string;
  readonly token: string;
}

interface ClientEvent {
  readonly type: string;
  readonly sender: string;
  readonly event_id: string;
  readonly state_key?: string;
  readonly content: Record<string, any>;
}

let server: TestServer;
let bot: MatrixClient | undefined;

async function api(who: Account | undefined, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${server.baseUrl}/_matrix/client/v3${path}`, {
    method,
    headers: { ...(who ? { Authorization: `Bearer ${who.token}` } : {}), ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const json = await res.json();
  if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Sign up as users do: the first request answers with the flows, the second completes m.login.dummy. */
async function register(username: string): Promise<Account> {
  const creds = { username, password: `${username}-password-1` };
  const first = await fetch(`${server.baseUrl}/_matrix/client/v3/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(creds),
  });
  const { session } = (await first.json()) as { session?: string };
  assert.equal(first.status, 401);
  const done = await api(undefined, 'POST', '/register', { ...creds, auth: { type: 'm.login.dummy', session } });
  return { userId: done.user_id, token: done.access_token };
}

/** The human's /sync loop: long-polls until `done` holds for the room's timeline seen so far. */
async function syncUntil(who: Account, roomId: string, what: string, done: (timeline: ClientEvent[]) => boolean, since?: string): Promise<{ timeline: ClientEvent[]; next: string }> {
  const timeline: ClientEvent[] = [];
  const deadline = Date.now() + 20_000;
  let next = since;
  while (Date.now() < deadline) {
    const q = new URLSearchParams({ timeout: '2000', ...(next ? { since: next } : {}) });
    const res = await api(who, 'GET', `/sync?${q}`);
    next = res.next_batch as string;
    timeline.push(...((res.rooms?.join?.[roomId]?.timeline?.events ?? []) as ClientEvent[]));
    if (done(timeline)) return { timeline, next };
  }
  throw new Error(`timed out waiting for ${what}`);
}

test.before(async () => {
  server = await startTestServer();
});

test.after(async () => {
  bot?.stop();
  // Stopping the server also ends the bot's in-flight long-poll, so nothing keeps the process alive.
  await server?.stop();
});

test('a bot auto-joins, echoes a command, reacts, and answers with room state, all seen through /sync', async () => {
  const botAccount = await register('echobot');
  const human = await register('human');

  const client = new BotClient(server.baseUrl, botAccount.token, new MemoryStorageProvider());
  bot = client;
  client.syncingTimeout = 2000;
  AutojoinRoomsMixin.setupOnClient(client);
  const handled: string[] = [];
  const failures: unknown[] = [];
  client.on('room.message', (roomId: string, event: ClientEvent) => {
    void (async () => {
      if (event.sender === botAccount.userId || typeof event.content.body !== 'string') return;
      const body = event.content.body;
      if (body.startsWith('!echo ')) {
        await client.sendText(roomId, body.slice('!echo '.length));
        await client.unstableApis.addReactionToEvent(roomId, event.event_id, '✅');
      } else if (body === '!topic') {
        const topic = (await client.getRoomStateEvent(roomId, 'm.room.topic', '')) as { topic: string };
        await client.sendNotice(roomId, `topic: ${topic.topic}`);
      } else return;
      handled.push(body);
    })().catch((e: unknown) => failures.push(e));
  });
  await client.start();
  assert.equal(await client.getUserId(), botAccount.userId);
  await client.setDisplayName('Echo Bot');
  assert.equal((await api(human, 'GET', `/profile/${encodeURIComponent(botAccount.userId)}/displayname`)).displayname, 'Echo Bot');

  // The human creates a room and invites the bot; the bot joins by itself.
  const { room_id: roomId } = await api(human, 'POST', '/createRoom', { name: 'Bot room', topic: 'testing bots', invite: [botAccount.userId] });
  const joined = await syncUntil(human, roomId, 'the bot to join', (tl) =>
    tl.some((e) => e.type === 'm.room.member' && e.state_key === botAccount.userId && e.content.membership === 'join'),
  );
  const join = joined.timeline.find((e) => e.type === 'm.room.member' && e.state_key === botAccount.userId && e.content.membership === 'join');
  assert.equal(join?.content.displayname, 'Echo Bot', 'the join carries the displayname the bot set');
  assert.deepEqual(await client.getJoinedRooms(), [roomId]);

  // A command answered from the bot's room.message handler, plus a reaction to the command.
  const command = await api(human, 'PUT', `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t1`, { msgtype: 'm.text', body: '!echo hello' });
  const fromBot = (tl: ClientEvent[]) => tl.filter((e) => e.sender === botAccount.userId);
  const echoed = await syncUntil(
    human,
    roomId,
    'the echo and the reaction',
    (tl) => fromBot(tl).some((e) => e.type === 'm.room.message') && fromBot(tl).some((e) => e.type === 'm.reaction'),
    joined.next,
  );
  const reply = fromBot(echoed.timeline).find((e) => e.type === 'm.room.message');
  assert.equal(reply?.content.body, 'hello');
  assert.equal(reply?.content.msgtype, 'm.text');
  const reaction = fromBot(echoed.timeline).find((e) => e.type === 'm.reaction');
  assert.deepEqual(reaction?.content['m.relates_to'], { rel_type: 'm.annotation', event_id: command.event_id, key: '✅' });

  // Room state read by the bot, answered as a notice.
  await api(human, 'PUT', `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t2`, { msgtype: 'm.text', body: '!topic' });
  const noticed = await syncUntil(human, roomId, 'the notice', (tl) => fromBot(tl).some((e) => e.content.msgtype === 'm.notice'), echoed.next);
  assert.equal(fromBot(noticed.timeline).find((e) => e.content.msgtype === 'm.notice')?.content.body, 'topic: testing bots');

  // State the room does not have is a 404 the bot sees as an error.
  await assert.rejects(client.getRoomStateEvent(roomId, 'm.room.avatar', ''), (e: any) => e.statusCode === 404 && e.body?.errcode === 'M_NOT_FOUND');
  assert.deepEqual(handled, ['!echo hello', '!topic']);
  assert.deepEqual(failures, []);
});
