/** Push actions computed at persist time, in real rooms, through the rooms persister's onPersisted hook. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { computePushActions, PushMemberIndex, PushRulesCache, type PushableEvent } from '../src/index.ts';
import { actionRows, startRoomsEnv, u, type RoomsEnv } from './rooms-support.ts';

let env: RoomsEnv;
const alice = u('alice');
const bob = u('bob');
const carol = u('carol');
let group: string;

before(async () => {
  env = await startRoomsEnv();
  group = (await env.rooms.createRoom(alice, { preset: 'public_chat', room_version: '11' })).roomId;
  await env.join(group, bob);
  await env.join(group, carol);
});
after(async () => {
  await env?.close();
  assert.deepEqual(env.hookErrors, []);
});

const notify = ['notify'];

test('a plain message notifies every joined local member but the sender', async () => {
  const id = await env.send(group, alice, { msgtype: 'm.text', body: 'hello all' });
  const rows = await actionRows(env, id);
  assert.deepEqual([...rows.keys()].sort(), [bob, carol]);
  assert.deepEqual(rows.get(bob), { notif: true, highlight: false, actions: notify, thread_id: 'main' });
});

test('mentions highlight: a user mention for that user only, @room when the sender may', async () => {
  const id = await env.send(group, alice, { msgtype: 'm.text', body: 'hey Bob', 'm.mentions': { user_ids: [bob] } });
  const rows = await actionRows(env, id);
  assert.deepEqual(rows.get(bob), {
    notif: true,
    highlight: true,
    actions: ['notify', { set_tweak: 'sound', value: 'default' }, { set_tweak: 'highlight' }],
    thread_id: 'main',
  });
  assert.equal(rows.get(carol)?.highlight, false);

  // Alice (the creator, power 100) may notify the room; Bob (power 0) may not: his @room is a plain message.
  const byAlice = await actionRows(env, await env.send(group, alice, { msgtype: 'm.text', body: 'all', 'm.mentions': { room: true } }));
  assert.equal(byAlice.get(bob)?.highlight, true);
  assert.equal(byAlice.get(carol)?.highlight, true);
  const byBob = await actionRows(env, await env.send(group, bob, { msgtype: 'm.text', body: 'all', 'm.mentions': { room: true } }));
  assert.deepEqual([...byBob.keys()].sort(), [alice, carol]);
  assert.equal(byBob.get(carol)?.highlight, false);
});

test('notices, reactions and member events do not notify; invites notify the invitee', async () => {
  const notice = await env.send(group, alice, { msgtype: 'm.notice', body: 'bot says hi' });
  assert.equal((await actionRows(env, notice)).size, 0);
  const reaction = await env.send(group, bob, { 'm.relates_to': { rel_type: 'm.annotation', event_id: notice, key: '👍' } }, 'm.reaction');
  assert.equal((await actionRows(env, reaction)).size, 0);
  const dave = u('dave');
  const { eventId } = await env.rooms.updateMembership({ roomId: group, sender: alice, target: dave, action: 'invite' });
  const rows = await actionRows(env, eventId);
  assert.deepEqual([...rows.keys()], [dave], 'only the invitee, not the joined members');
  assert.deepEqual(rows.get(dave)?.actions, ['notify', { set_tweak: 'sound', value: 'default' }]);
});

test('one-to-one rooms: messages and encrypted events ring with a sound; in groups encrypted events just notify', async () => {
  const dm = (await env.rooms.createRoom(alice, { preset: 'trusted_private_chat', room_version: '11', invite: [bob], is_direct: true })).roomId;
  await env.join(dm, bob);
  const msg = await actionRows(env, await env.send(dm, bob, { msgtype: 'm.text', body: 'psst' }));
  assert.deepEqual([...msg.keys()], [alice]);
  assert.deepEqual(msg.get(alice)?.actions, ['notify', { set_tweak: 'sound', value: 'default' }]);
  const encrypted = { algorithm: 'm.megolm.v1.aes-sha2', ciphertext: 'AwgA', sender_key: 'k', device_id: 'D', session_id: 's' };
  const enc = await actionRows(env, await env.send(dm, alice, encrypted, 'm.room.encrypted'));
  assert.deepEqual(enc.get(bob)?.actions, ['notify', { set_tweak: 'sound', value: 'default' }]);
  const encGroup = await actionRows(env, await env.send(group, alice, encrypted, 'm.room.encrypted'));
  assert.deepEqual(encGroup.get(bob)?.actions, notify);
  assert.deepEqual(encGroup.get(carol)?.actions, notify);
});

test('users who left are not notified', async () => {
  const room = (await env.rooms.createRoom(alice, { preset: 'public_chat', room_version: '11' })).roomId;
  await env.join(room, bob);
  await env.join(room, carol);
  await env.leave(room, carol);
  const rows = await actionRows(env, await env.send(room, alice, { msgtype: 'm.text', body: 'where is carol' }));
  assert.deepEqual([...rows.keys()], [bob]);
});

test('threads: a threaded event counts in its thread, and so does a reference to it', async () => {
  const root = await env.send(group, alice, { msgtype: 'm.text', body: 'root' });
  const reply = await env.send(group, bob, { msgtype: 'm.text', body: 'in thread', 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
  assert.equal((await actionRows(env, reply)).get(alice)?.thread_id, root);
  const ref = await env.send(group, carol, { msgtype: 'm.text', body: 'about that', 'm.relates_to': { rel_type: 'm.reference', event_id: reply } });
  assert.equal((await actionRows(env, ref)).get(alice)?.thread_id, root);
  const refRoot = await env.send(group, carol, { msgtype: 'm.text', body: 'about root', 'm.relates_to': { rel_type: 'm.reference', event_id: root } });
  assert.equal((await actionRows(env, refRoot)).get(alice)?.thread_id, 'main', 'the root itself is in the main timeline');
});

test("a redaction removes its target's notifications", async () => {
  const id = await env.send(group, alice, { msgtype: 'm.text', body: 'oops' });
  assert.equal((await actionRows(env, id)).size, 2);
  await env.send(group, alice, { redacts: id }, 'm.room.redaction');
  assert.equal((await actionRows(env, id)).size, 0);
});

test('push rule changes are picked up by the cache; unchanged users are not reloaded', async () => {
  const loadsBefore = env.cache.loads;
  await env.send(group, alice, { msgtype: 'm.text', body: 'warm' });
  await env.send(group, alice, { msgtype: 'm.text', body: 'warm again' });
  assert.equal(env.cache.loads, loadsBefore, 'nobody has custom rules yet: nothing loaded');
  await env.rules.putRule(carol, { kind: 'room', rule_id: group, actions: [] }, {});
  const muted = await actionRows(env, await env.send(group, alice, { msgtype: 'm.text', body: 'muted for carol' }));
  assert.deepEqual([...muted.keys()], [bob]);
  assert.equal(env.cache.loads, loadsBefore + 1, 'only carol was loaded');
  await env.send(group, alice, { msgtype: 'm.text', body: 'still muted' });
  assert.equal(env.cache.loads, loadsBefore + 1, 'and only once');
  await env.rules.deleteRule(carol, 'room', group);
  const back = await actionRows(env, await env.send(group, alice, { msgtype: 'm.text', body: 'unmuted' }));
  assert.deepEqual([...back.keys()].sort(), [bob, carol]);
});

test('room states are cached until the room state changes', async () => {
  const room = (await env.rooms.createRoom(alice, { preset: 'public_chat', room_version: '11' })).roomId;
  await env.join(room, bob);
  await env.send(room, alice, { msgtype: 'm.text', body: 'load it' });
  const loads = env.roomStates.loads;
  await env.send(room, alice, { msgtype: 'm.text', body: 'cached' });
  await env.send(room, bob, { msgtype: 'm.text', body: 'still cached' });
  assert.equal(env.roomStates.loads, loads, 'messages do not change the state');
  await env.join(room, carol);
  assert.equal(env.roomStates.loads, loads + 1, 'a join does');
  const rows = await actionRows(env, await env.send(room, alice, { msgtype: 'm.text', body: 'hi carol' }));
  assert.deepEqual([...rows.keys()].sort(), [bob, carol]);
  assert.equal(env.roomStates.loads, loads + 1);
});

test('rule caches re-check users after their TTL; member numbering is shared safely between processes', async () => {
  let now = 1_000;
  const cache = new PushRulesCache({ ttlMs: 100, clock: () => now });
  await cache.rulesFor(env.db.sql, [bob, carol]);
  // A change the stream head check cannot see (as if committed below an ID already seen): only the TTL catches it.
  await env.rules.putRule(bob, { kind: 'sender', rule_id: alice, actions: [] }, {});
  await cache.refresh(env.db.sql);
  now += 50;
  const stale = (await cache.rulesAfterRefresh(env.db.sql, [bob])).get(bob);
  assert.ok(stale?.some((r) => r.rule_id === alice), 'the head moved: bob was dropped and reloaded');
  await env.db.sql`DELETE FROM push_rules WHERE user_id = ${bob}`;
  await env.db.sql`INSERT INTO push_rules_stream (stream_id, user_id, kind, rule_id, op) VALUES (0, ${bob}, 'sender', ${alice}, 'delete')`;
  assert.ok((await cache.rulesFor(env.db.sql, [bob])).get(bob)?.some((r) => r.rule_id === alice), 'within the TTL the late change is unseen');
  now += 200;
  assert.ok(!(await cache.rulesFor(env.db.sql, [bob])).get(bob)?.some((r) => r.rule_id === alice), 'after it, it is seen');

  const room = '!numbering:push.test';
  const [a, b] = [new PushMemberIndex(), new PushMemberIndex()];
  const users = Array.from({ length: 20 }, (_, i) => u(`n${i}`));
  const [na, nb] = await Promise.all([
    a.numbersFor(env.db.sql, new Map([[room, new Set(users.slice(0, 15))]])),
    b.numbersFor(env.db.sql, new Map([[room, new Set(users.slice(5))]])),
  ]);
  for (const user of users.slice(5, 15)) assert.equal(na.get(room)?.get(user), nb.get(room)?.get(user), user);
  const stored = await env.db.sql<{ idx: number }[]>`SELECT idx FROM push_room_members WHERE room_id = ${room} ORDER BY idx`;
  assert.deepEqual(stored.map((r) => r.idx), Array.from({ length: 20 }, (_, i) => i), 'numbers 0…19, each once');
});

/** Events as the persister reports them, from the store (for calling computePushActions directly). */
async function pushable(ids: string[]): Promise<PushableEvent[]> {
  const events = await env.rooms.store.getEventList(ids);
  return events.map((e) => ({ eventId: e.eventId, roomId: e.roomId, pdu: e.pdu, streamOrdering: e.streamOrdering, replacesState: e.replacesState }));
}

test('a batch is evaluated against the membership before each event, not the membership after it', async () => {
  const room = (await env.rooms.createRoom(alice, { preset: 'public_chat', room_version: '11' })).roomId;
  await env.join(room, carol);
  env.hook = false;
  try {
    const m1 = await env.send(room, alice, { msgtype: 'm.text', body: 'before bob' });
    const join = await env.join(room, bob);
    const m2 = await env.send(room, alice, { msgtype: 'm.text', body: 'bob is here' });
    const left = await env.leave(room, carol);
    const m3 = await env.send(room, alice, { msgtype: 'm.text', body: 'carol is gone' });
    const first = await computePushActions(env.actionsDeps, await pushable([m1, join, m2, left, m3]));
    assert.deepEqual([...(await actionRows(env, m1)).keys()], [carol], 'bob joined after m1; carol was still there');
    assert.deepEqual([...(await actionRows(env, m2)).keys()].sort(), [bob, carol]);
    assert.deepEqual([...(await actionRows(env, m3)).keys()], [bob]);
    assert.deepEqual(first, { rows: 3, notified: 4 }, 'one row per message: everyone got the same actions');
    // Idempotent: computing the same batch again writes nothing new.
    await computePushActions(env.actionsDeps, await pushable([m1, join, m2, left, m3]));
    const counted = await env.db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM event_push_actions WHERE room_id = ${room}`;
    assert.equal(counted[0]?.n, 3);
  } finally {
    env.hook = true;
  }
});

test('legacy display-name mentions, ignored senders, and outliers', async () => {
  const room = (await env.rooms.createRoom(alice, { preset: 'public_chat', room_version: '11' })).roomId;
  await env.join(room, bob);
  await env.join(room, carol);
  env.hook = false;
  try {
    const id = await env.send(room, alice, { msgtype: 'm.text', body: 'ping Carol please' });
    const events = await pushable([id]);
    const result = await computePushActions(
      { ...env.actionsDeps, rulesCache: undefined, legacyMentionRules: true, getIgnoredUsers: async () => new Map([[bob, new Set([alice])]]) },
      events,
    );
    assert.deepEqual(result, { rows: 1, notified: 1 });
    const rows = await actionRows(env, id);
    assert.deepEqual([...rows.keys()], [carol], 'bob ignores alice');
    assert.equal(rows.get(carol)?.highlight, true, 'her display name is in the body');
    const outlier = { ...(events[0] as PushableEvent), outlier: true };
    assert.deepEqual(await computePushActions(env.actionsDeps, [outlier]), { rows: 0, notified: 0 });
  } finally {
    env.hook = true;
  }
});
