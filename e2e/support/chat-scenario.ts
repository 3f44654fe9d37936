/**
 * The real-client chat scenario, run against whatever serves `baseUrl()` (one process, or a fleet
 * behind a reverse proxy): two matrix-js-sdk users (Rust crypto) sign up, create a room, invite and
 * join, exchange 200 messages that must arrive through /sync in order, see typing, receipts and
 * profile changes, paginate back with /messages, and exchange an end-to-end encrypted message.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import {
  ClientEvent,
  createClient,
  EventType,
  MatrixEvent,
  MatrixEventEvent,
  Direction,
  MsgType,
  PendingEventOrdering,
  RoomEvent,
  RoomMemberEvent,

  type MatrixClient,
  type Room,
} from 'matrix-js-sdk';
import { logger as sdkGlobalLogger, type Logger } from 'matrix-js-sdk/lib/logger.js';


// The SDK logs every request and the Rust crypto's internals; the assertions say what matters.
const quiet: Logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, getChild: () => quiet };
// Parts of the SDK still log through its global loglevel logger.
(sdkGlobalLogger as unknown as { setLevel(level: string): void }).setLevel('error');

/** Registers the scenario's tests; `baseUrl` is read when they run. */
export function chatScenario(baseUrl: () => string): void {
  const clients: MatrixClient[] = [];

  async function signUp(username: string): Promise<MatrixClient> {
    const anon = createClient({ baseUrl: baseUrl(), logger: quiet });
    let session: string | undefined;
    try {
      await anon.registerRequest({ username, password: `${username}-password` });
    } catch (e) {
      session = (e as { data?: { session?: string } }).data?.session;
      if (!session) throw e;
    }
    const res = await anon.registerRequest({ username, password: `${username}-password`, auth: { type: 'm.login.dummy', session } });
    const client = createClient({
      baseUrl: baseUrl(),
      userId: res.user_id,
      accessToken: res.access_token,
      deviceId: res.device_id,
      logger: quiet,
    });
    clients.push(client);
    return client;
  }

  async function start(client: MatrixClient, crypto = false): Promise<void> {
    if (crypto) await client.initRustCrypto({ useIndexedDB: false });
    const ready = new Promise<void>((resolve, reject) => {
      client.on(ClientEvent.Sync, (state) => {
        if (state === 'PREPARED') resolve();
        if (state === 'ERROR') reject(new Error('sync error'));
      });
    });
    // Local echoes wait in a separate list, so the live timeline holds what the server sent.
    await client.startClient({ initialSyncLimit: 20, pendingEventOrdering: PendingEventOrdering.Detached });
    await ready;
  }

  function waitFor<T>(what: string, check: () => T | undefined, timeoutMs = 20_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      const tick = () => {
        const v = check();
        if (v !== undefined && v !== false) return resolve(v);
        if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
        setTimeout(tick, 20);
      };
      tick();
    });
  }

  function timelineBodies(room: Room): string[] {
    return room
      .getLiveTimeline()
      .getEvents()
      .filter((e) => e.getType() === 'm.room.message')
      .map((e) => String(e.getContent().body));
  }

  test.after(() => {
    for (const c of clients) c.stopClient();
  });

  let alice: MatrixClient;
  let bob: MatrixClient;
  let roomId: string;

  test('two users sign up, create a room, invite and join', async () => {
    alice = await signUp('alice');
    bob = await signUp('bob');
    await start(alice, true);
    await start(bob, true);
    const created = await alice.createRoom({ preset: 'private_chat' as never, name: 'e2e room' });
    roomId = created.room_id;
    await alice.invite(roomId, bob.getUserId() as string);
    await waitFor('bob sees the invite', () => bob.getRoom(roomId)?.getMyMembership() === 'invite');
    await bob.joinRoom(roomId);
    await waitFor('alice sees bob join', () => alice.getRoom(roomId)?.getMember(bob.getUserId() as string)?.membership === 'join');
  });

  test('200 messages arrive through sync, in order', async () => {
    const sent: Record<string, string[]> = { alice: [], bob: [] };
    for (let i = 0; i < 200; i++) {
      const who = i % 2 === 0 ? 'alice' : 'bob';
      const body = `message ${i}`;
      sent[who]?.push(body);
      await (who === 'alice' ? alice : bob).sendMessage(roomId, { msgtype: MsgType.Text, body });
    }
    // Each client shows its own messages as soon as they are sent, so only the other user's messages
    // are checked for order; together with /messages below this checks the server's order end to end.
    const senders = (c: MatrixClient) => (c === alice ? { me: 'alice', other: 'bob' } : { me: 'bob', other: 'alice' });
    for (const c of [alice, bob]) {
      const { other } = senders(c);
      const otherId = (c === alice ? bob : alice).getUserId();
      await waitFor(`all messages at ${senders(c).me}`, () => {
        const events = (c.getRoom(roomId) as Room).getLiveTimeline().getEvents().filter((e) => e.getType() === 'm.room.message');
        const fromOther = events.filter((e) => e.getSender() === otherId).map((e) => String(e.getContent().body));
        return events.length >= 200 && JSON.stringify(fromOther.slice(-100)) === JSON.stringify(sent[other]) ? true : undefined;
      });
    }
    const page = await bob.createMessagesRequest(roomId, null, 250, Direction.Backward);
    const serverOrder = page.chunk.filter((e) => e.type === 'm.room.message').map((e) => String(e.content.body)).reverse();
    assert.deepEqual(serverOrder.slice(-200), Array.from({ length: 200 }, (_, i) => `message ${i}`));
  });

  test('typing, read receipts and profile changes are seen by the other user', async () => {
    const room = () => bob.getRoom(roomId) as Room;
    await alice.sendTyping(roomId, true, 10_000);
    await waitFor('typing', () => room().getMember(alice.getUserId() as string)?.typing === true);
    const fromBob = alice.getRoom(roomId)?.getLiveTimeline().getEvents().filter((e) => e.getSender() === bob.getUserId());
    const last = fromBob?.at(-1) as MatrixEvent;
    await alice.sendReadReceipt(last);
    await waitFor('receipt', () => (room().getEventReadUpTo(alice.getUserId() as string) === last.getId() ? true : undefined));
    const renamed = new Promise<void>((resolve) =>
      bob.on(RoomMemberEvent.Name, (_e, member) => {
        if (member.userId === alice.getUserId() && member.name === 'Alice Liddell') resolve();
      }),
    );
    await alice.setDisplayName('Alice Liddell');
    await renamed;
  });

  test('a new client paginates back through the history with /messages', async () => {
    const late = createClient({
      baseUrl: baseUrl(),
      userId: bob.getUserId() as string,
      accessToken: bob.getAccessToken() as string,
      deviceId: bob.getDeviceId() as string,
      logger: quiet,
    });
    clients.push(late);
    await start(late);
    const room = late.getRoom(roomId) as Room;
    for (let i = 0; i < 30 && timelineBodies(room).length < 200; i++) {
      await late.scrollback(room, 50);
    }
    const bodies = timelineBodies(room);
    assert.ok(bodies.length >= 200, `got ${bodies.length}`);
    const tail = bodies.slice(bodies.indexOf('message 0'));
    assert.deepEqual(tail.slice(0, 200), Array.from({ length: 200 }, (_, i) => `message ${i}`));
    late.stopClient();
  });

  test('an encrypted message is decrypted by the other user', async () => {
    await alice.sendStateEvent(roomId, EventType.RoomEncryption, { algorithm: 'm.megolm.v1.aes-sha2' });
    for (const c of [alice, bob]) {
      await waitFor('both see encryption', () => (c.getRoom(roomId)?.hasEncryptionStateEvent() ? true : undefined));
    }
    const decrypted = new Promise<string>((resolve) => {
      const onEvent = (event: MatrixEvent) => {
        if (event.getRoomId() !== roomId || !event.isEncrypted()) return;
        const check = () => {
          if (event.getType() === 'm.room.message' && !event.isDecryptionFailure()) resolve(String(event.getContent().body));
        };
        if (event.isBeingDecrypted() || event.getType() === 'm.room.encrypted') event.once(MatrixEventEvent.Decrypted, check);
        check();
      };
      bob.on(RoomEvent.Timeline, onEvent);
    });
    await alice.sendMessage(roomId, { msgtype: MsgType.Text, body: 'a secret' });
    assert.equal(await decrypted, 'a secret');
  });
}
