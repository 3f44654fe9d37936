import test from 'node:test';
import assert from 'node:assert/strict';
import type { StreamChange } from '@hs/core';
import type { TypingChangeRow } from '../src/typing-replication.ts';
import { TypingState } from '../src/typing-state.ts';
import { FakeClock, enc, startHarness, type Harness } from './support.ts';

const ROOM = '!room:test';
const ALICE = '@alice:test';
const BOB = '@bob:test';
const typingPath = (room: string, user: string) => `/_matrix/client/v3/rooms/${enc(room)}/typing/${enc(user)}`;

let h: Harness;
test.before(async () => {
  h = await startHarness();
  h.world.join(ROOM, ALICE, BOB);
});
test.after(() => h.close());

test('PUT typing starts and stops typing, bumping the stream and notifying the room each time', async () => {
  const before = h.typing.position;
  h.changes.length = 0;
  assert.deepEqual(await h.call('PUT', typingPath(ROOM, ALICE), { as: ALICE, body: { typing: true, timeout: 10_000 } }), { status: 200, json: {} });
  assert.equal(h.typing.isTyping(ROOM, ALICE), true);
  assert.equal(h.typing.position, before + 1);
  assert.deepEqual(h.changes, [{ stream: 'typing', position: before + 1, rooms: [ROOM] }]);
  // Renewing while typing changes nothing visible.
  await h.call('PUT', typingPath(ROOM, ALICE), { as: ALICE, body: { typing: true } });
  assert.equal(h.typing.position, before + 1);
  assert.deepEqual(h.typing.getTypingUpdates(before, h.typing.position, [ROOM]), new Map([[ROOM, [ALICE]]]));
  assert.equal((await h.call('PUT', typingPath(ROOM, ALICE), { as: ALICE, body: { typing: false } })).status, 200);
  assert.equal(h.typing.isTyping(ROOM, ALICE), false);
  assert.equal(h.typing.position, before + 2);
  // Stopping when not typing is a no-op.
  await h.call('PUT', typingPath(ROOM, ALICE), { as: ALICE, body: { typing: false } });
  assert.equal(h.typing.position, before + 2);
  // The r0 and api/v1 prefixes reach the same endpoint.
  assert.equal((await h.call('PUT', `/_matrix/client/api/v1/rooms/${enc(ROOM)}/typing/${enc(ALICE)}`, { as: ALICE, body: { typing: false } })).status, 200);
});

test('typing errors: other user 403, not joined 403, bad room ID 400, bad bodies 400, no token 401', async () => {
  const other = await h.call('PUT', typingPath(ROOM, BOB), { as: ALICE, body: { typing: true } });
  assert.equal(other.status, 403);
  assert.equal(other.json.errcode, 'M_FORBIDDEN');
  const notJoined = await h.call('PUT', typingPath('!elsewhere:test', ALICE), { as: ALICE, body: { typing: true } });
  assert.equal(notJoined.status, 403);
  assert.equal(notJoined.json.errcode, 'M_FORBIDDEN');
  const badRoom = await h.call('PUT', typingPath('room:test', ALICE), { as: ALICE, body: { typing: true } });
  assert.equal(badRoom.status, 400);
  assert.equal(badRoom.json.errcode, 'M_INVALID_PARAM');
  const missing = await h.call('PUT', typingPath(ROOM, ALICE), { as: ALICE, body: {} });
  assert.deepEqual([missing.status, missing.json.errcode], [400, 'M_MISSING_PARAM']);
  const wrongType = await h.call('PUT', typingPath(ROOM, ALICE), { as: ALICE, body: { typing: 'yes' } });
  assert.deepEqual([wrongType.status, wrongType.json.errcode], [400, 'M_BAD_JSON']);
  const badTimeout = await h.call('PUT', typingPath(ROOM, ALICE), { as: ALICE, body: { typing: true, timeout: 1.5 } });
  assert.deepEqual([badTimeout.status, badTimeout.json.errcode], [400, 'M_BAD_JSON']);
  const notJson = await h.call('PUT', typingPath(ROOM, ALICE), { as: ALICE, raw: '{nope' });
  assert.deepEqual([notJson.status, notJson.json.errcode], [400, 'M_NOT_JSON']);
  assert.equal((await h.call('PUT', typingPath(ROOM, ALICE), { body: { typing: true } })).status, 401);
  assert.equal(h.typing.isTyping(ROOM, ALICE), false);
});

test('typing expires after its timeout on the wheel tick, capped at 120 s, and expiry notifies', async () => {
  await h.call('PUT', typingPath(ROOM, ALICE), { as: ALICE, body: { typing: true, timeout: 3000 } });
  await h.call('PUT', typingPath(ROOM, BOB), { as: BOB, body: { typing: true, timeout: 10_000_000 } });
  h.clock.advance(2000);
  h.typing.tick();
  assert.equal(h.typing.isTyping(ROOM, ALICE), true, 'not yet expired');
  h.changes.length = 0;
  h.clock.advance(2000);
  h.typing.tick();
  assert.equal(h.typing.isTyping(ROOM, ALICE), false, 'expired after 3 s');
  assert.deepEqual(h.changes, [{ stream: 'typing', position: h.typing.position, rooms: [ROOM] }]);
  assert.equal(h.typing.isTyping(ROOM, BOB), true);
  h.clock.advance(116_000 + 1000);
  h.typing.tick();
  assert.equal(h.typing.isTyping(ROOM, BOB), false, 'a huge timeout is capped at 120 s');
});

test('renewing a typing notice pushes its expiry back', () => {
  const clock = new FakeClock();
  const t = new TypingState({ notify: () => {}, clock: clock.now, autoTick: false, tickMs: 100 });
  t.start(ROOM, ALICE, 1000);
  clock.advance(800);
  t.start(ROOM, ALICE, 1000);
  clock.advance(800);
  t.tick();
  assert.equal(t.isTyping(ROOM, ALICE), true);
  clock.advance(400);
  t.tick();
  assert.equal(t.isTyping(ROOM, ALICE), false);
});

test('readers: updates between positions, current typing per room, rows for mirrors', () => {
  const clock = new FakeClock();
  const announced: TypingChangeRow[] = [];
  const t = new TypingState({ notify: () => {}, clock: clock.now, autoTick: false, onRow: (r) => void announced.push(r) });
  assert.equal(t.start('!a:test', ALICE, 30_000), 1);
  assert.equal(t.start('!b:test', BOB, 30_000), 2);
  assert.equal(t.start('!a:test', BOB, 30_000), 3);
  assert.equal(t.start('!a:test', BOB, 30_000), 3, 'a renewal changes nothing and answers the same position');
  assert.equal(t.stop('!b:test', BOB), 4);
  assert.equal(t.stop('!b:test', BOB), 4);
  assert.equal(t.position, 4);
  assert.deepEqual(t.getTypingUpdates(0, 4), new Map([['!a:test', [ALICE, BOB]], ['!b:test', []]]));
  assert.deepEqual(t.getTypingUpdates(3, 4), new Map([['!b:test', []]]));
  // A change above the upper bound is left for the next sync.
  assert.deepEqual(t.getTypingUpdates(0, 2), new Map());
  assert.deepEqual(t.getTypingUpdates(4, 4), new Map());
  assert.deepEqual(t.getTypingUpdates(0, 4, ['!b:test']), new Map([['!b:test', []]]));
  assert.deepEqual(t.getRoomsTyping(['!a:test', '!b:test', '!c:test']), new Map([['!a:test', [ALICE, BOB]]]));

  // One row per change, each with the set as it was then and the writer's epoch.
  assert.deepEqual(announced, [
    { id: 1, room_id: '!a:test', user_ids: [ALICE], epoch: t.epoch },
    { id: 2, room_id: '!b:test', user_ids: [BOB], epoch: t.epoch },
    { id: 3, room_id: '!a:test', user_ids: [ALICE, BOB], epoch: t.epoch },
    { id: 4, room_id: '!b:test', user_ids: [], epoch: t.epoch },
  ]);
  // Catch-up rows: each room once, at its last change.
  assert.deepEqual(t.typingRowsSince(0), [
    { id: 3, room_id: '!a:test', user_ids: [ALICE, BOB] },
    { id: 4, room_id: '!b:test', user_ids: [] },
  ]);
  assert.deepEqual(t.typingRowsSince(0, 3), [{ id: 3, room_id: '!a:test', user_ids: [ALICE, BOB] }]);
  assert.deepEqual(t.typingRowsSince(4), []);
  assert.notEqual(new TypingState({ notify: () => {}, autoTick: false }).epoch, t.epoch, 'each run has its own epoch');
});

test('idle rooms are forgotten after 10 minutes, and the writer says how far that reaches', () => {
  const clock = new FakeClock();
  const t = new TypingState({ notify: () => {}, clock: clock.now, autoTick: false, tickMs: 1000 });
  t.start('!a:test', ALICE, 1000); // 1
  t.stop('!a:test', ALICE); // 2
  t.start('!b:test', BOB, 20 * 60_000); // 3
  clock.advance(10 * 60_000);
  t.tick();
  assert.equal(t.forgottenUpTo, 2);
  assert.deepEqual(t.typingRowsSince(0), [{ id: 3, room_id: '!b:test', user_ids: [BOB] }]);
  assert.deepEqual(t.getTypingUpdates(0, 3), new Map([['!b:test', [BOB]]]));
});

test('the periodic tick expires typing on its own with the real clock', async () => {
  const seen: StreamChange[] = [];
  const t = new TypingState({ notify: (c) => void seen.push(c), tickMs: 20 });
  try {
    t.start(ROOM, ALICE, 30);
    assert.equal(t.isTyping(ROOM, ALICE), true);
    const deadline = Date.now() + 2000;
    while (t.isTyping(ROOM, ALICE) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(t.isTyping(ROOM, ALICE), false);
    assert.equal(seen.length, 2);
  } finally {
    t.close();
  }
});
