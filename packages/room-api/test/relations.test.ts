/** Relations, threads, bundled aggregations, timestamp_to_event and redaction, over HTTP. */
import test from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '@hs/core';
import { C, C1, enc, startHarness, text, user } from './harness.ts';
import type { Harness } from './harness.ts';
import { assertResponseShape, specPresent } from '../../../e2e/support/openapi.ts';

const alice = user('alice');
const bob = user('bob');
const carol = user('carol');
const dave = user('dave');

// A clock that moves 1 ms per reading, so every event has its own origin_server_ts.
let now = 1_700_000_000_000;
let h: Harness;
let roomId: string;
test.before(async () => {
  h = await startHarness({ clock: () => (now += 1) });
  roomId = await h.createRoom(alice, { preset: 'public_chat' });
  await h.member(bob, roomId, 'join');
  await h.member(carol, roomId, 'join');
});
test.after(() => h.close());


const rel = (relType: string, eventId: string, extra: JsonObject = {}) => ({ 'm.relates_to': { rel_type: relType, event_id: eventId, ...extra } });
const edit = (original: string, body: string, withNew = true) => ({
  msgtype: 'm.text',
  body: `* ${body}`,
  ...(withNew ? { 'm.new_content': { msgtype: 'm.text', body } } : {}),
  ...rel('m.replace', original),
});
const reply = (root: string, body: string) => ({ ...text(body), ...rel('m.thread', root) });

async function served(token: string, eventId: string): Promise<any> {
  const r = await h.ok(token, 'GET', `${C}/rooms/${enc(roomId)}/context/${enc(eventId)}?limit=0`);
  return r.event;
}

const redact = (token: string, eventId: string, txn: string, body: unknown = {}) =>
  h.call(token, 'PUT', `${C}/rooms/${enc(roomId)}/redact/${enc(eventId)}/${txn}`, body);

test('edits: the latest valid replacement is bundled; invalid ones never are', async () => {
  const root = await h.send(alice, roomId, text('original'));
  const e1 = await h.send(alice, roomId, edit(root, 'first edit'));
  const e2 = await h.send(alice, roomId, edit(root, 'second edit'));
  await h.send(bob, roomId, edit(root, 'not yours'));
  await h.send(alice, roomId, edit(root, 'no new content', false));
  await h.send(alice, roomId, edit(root, 'wrong type'), 'org.example.other');
  let ev = await served(bob, root);
  assert.equal(ev.unsigned['m.relations']['m.replace'].event_id, e2);
  assert.equal(ev.unsigned['m.relations']['m.replace'].content['m.new_content'].body, 'second edit');
  assert.equal(ev.content.body, 'original', 'the original content is left alone');
  // Edits get no bundles of their own.
  assert.equal((await served(bob, e1)).unsigned['m.relations'], undefined);
  // Redacting the latest edit falls back to the one before; redacting the original drops the edit.
  assert.equal((await redact(alice, e2, 'r1')).status, 200);
  ev = await served(bob, root);
  assert.equal(ev.unsigned['m.relations']['m.replace'].event_id, e1);
  assert.equal((await redact(alice, root, 'r2')).status, 200);
  ev = await served(bob, root);
  assert.equal(ev.unsigned['m.relations'], undefined);
  assert.deepEqual(ev.content, {});
});

test('threads: summary with count, latest event (with its edit) and participation; ignored users left out', async () => {
  const root = await h.send(alice, roomId, text('thread root'));
  await h.send(bob, roomId, reply(root, 'bob in thread'));
  const latest = await h.send(carol, roomId, reply(root, 'carol in thread'));
  const latestEdit = await h.send(carol, roomId, edit(latest, 'carol edited'));
  const forBob = (await served(bob, root)).unsigned['m.relations']['m.thread'];
  assert.equal(forBob.count, 2);
  assert.equal(forBob.latest_event.event_id, latest);
  assert.equal(forBob.latest_event.unsigned['m.relations']['m.replace'].event_id, latestEdit);
  assert.equal(forBob.current_user_participated, true);
  assert.equal((await served(alice, root)).unsigned['m.relations']['m.thread'].current_user_participated, true, 'the root sender');
  await h.member(dave, roomId, 'join');
  assert.equal((await served(dave, root)).unsigned['m.relations']['m.thread'].current_user_participated, false);
  h.ignored.set(dave, new Set([carol]));
  const ignoring = (await served(dave, root)).unsigned['m.relations']['m.thread'];
  assert.equal(ignoring.count, 1);
  assert.notEqual(ignoring.latest_event.event_id, latest);
  h.ignored.delete(dave);
  // Thread replies themselves are no thread roots.
  const inThread = await served(bob, latest);
  assert.equal(inThread.unsigned['m.relations']?.['m.thread'], undefined);
});

test('references are bundled as a chunk of event IDs, in order', async () => {
  const target = await h.send(alice, roomId, text('referenced'));
  const r1 = await h.send(bob, roomId, { ...text('see above'), ...rel('m.reference', target) });
  const r2 = await h.send(carol, roomId, { ...text('me too'), ...rel('m.reference', target) });
  const bundle = (await served(alice, target)).unsigned['m.relations'];
  assert.deepEqual(bundle['m.reference'], { chunk: [{ event_id: r1 }, { event_id: r2 }] });
  // /messages serves the same bundles.
  const page = await h.ok(alice, 'GET', `${C}/rooms/${enc(roomId)}/messages?dir=b&limit=3`);
  const fromPage = page.chunk.find((e: JsonObject) => e.event_id === target);
  assert.deepEqual(fromPage.unsigned['m.relations']['m.reference'].chunk.length, 2);
});

test('/relations: children newest first, paged, by rel type and event type, recursively', async () => {
  const parent = await h.send(alice, roomId, text('parent'));
  const children: string[] = [];
  for (let i = 0; i < 5; i++) children.push(await h.send(i % 2 ? bob : carol, roomId, { ...text(`ref ${i}`), ...rel('m.reference', parent) }));
  const reaction = await h.send(bob, roomId, rel('m.annotation', parent, { key: '👍' }), 'm.reaction');
  children.push(reaction);
  const grandchild = await h.send(carol, roomId, rel('m.annotation', children[0]!, { key: '🎉' }), 'm.reaction');
  const removed = await h.send(bob, roomId, { ...text('gone'), ...rel('m.reference', parent) });
  assert.equal((await redact(bob, removed, 'r3')).status, 200);
  const base = `${C1}/rooms/${enc(roomId)}/relations/${enc(parent)}`;

  const seen: string[] = [];
  let from: string | undefined;
  for (let page = 0; page < 10; page++) {
    const r = await h.ok(alice, 'GET', `${base}?limit=2${from ? `&from=${enc(from)}` : ''}`);
    if (from) assert.equal(r.prev_batch, from);
    assert.equal(r.recursion_depth, undefined);
    seen.push(...r.chunk.map((e: JsonObject) => e.event_id));
    if (!r.next_batch) break;
    from = r.next_batch;
  }
  assert.deepEqual(seen, [...children].reverse());
  const forwards = await h.ok(alice, 'GET', `${base}?dir=f&limit=50`);
  assert.deepEqual(forwards.chunk.map((e: JsonObject) => e.event_id), children);
  const annotations = await h.ok(alice, 'GET', `${base}/m.annotation`);
  assert.deepEqual(annotations.chunk.map((e: JsonObject) => e.event_id), [reaction]);
  assert.deepEqual((await h.ok(alice, 'GET', `${base}/m.reference/m.reaction`)).chunk, []);
  assert.equal((await h.ok(alice, 'GET', `${base}/m.reference/m.room.message?limit=50`)).chunk.length, 5);
  const deep = await h.ok(alice, 'GET', `${base}?recurse=true&limit=50`);
  assert.equal(deep.recursion_depth, 3);
  assert.ok(deep.chunk.some((e: JsonObject) => e.event_id === grandchild));
  const shallow = await h.ok(alice, 'GET', `${base}?recurse=false&limit=50`);
  assert.equal(shallow.recursion_depth, 1);
  assert.ok(!shallow.chunk.some((e: JsonObject) => e.event_id === grandchild));
  // Between two tokens.
  const first = await h.ok(alice, 'GET', `${base}?limit=2`);
  const bounded = await h.ok(alice, 'GET', `${base}?limit=50&to=${enc(first.next_batch)}`);
  assert.deepEqual(bounded.chunk.map((e: JsonObject) => e.event_id), first.chunk.map((e: JsonObject) => e.event_id));

  // Errors.
  assert.equal((await h.call(alice, 'GET', `${C1}/rooms/${enc(roomId)}/relations/${enc('$unknown')}`)).status, 404);
  assert.equal((await h.call(user('eve'), 'GET', base)).status, 403);
  for (const q of ['dir=x', 'limit=0', 'limit=x', 'recurse=maybe', 'from=nonsense']) {
    const r = await h.call(alice, 'GET', `${base}?${q}`);
    assert.equal(r.status, 400, q);
  }
  assert.equal((await h.call(alice, 'GET', `${C1}/rooms/${enc(roomId)}/relations/not-an-event`)).status, 400);
});

test('/threads: roots by latest reply, paginated, participated only, with bundles', async () => {
  const room = await h.createRoom(alice, { preset: 'public_chat' });
  await h.member(bob, room, 'join');
  await h.member(carol, room, 'join');
  const a = await h.send(alice, room, text('A'));
  const b = await h.send(alice, room, text('B'));
  const c = await h.send(alice, room, text('C'));
  await h.send(carol, room, reply(a, 'carol on A'));
  await h.send(bob, room, reply(b, 'bob on B'));
  await h.send(bob, room, reply(c, 'bob on C'));
  const lastOnA = await h.send(bob, room, reply(a, 'bob on A again'));
  const threads = (token: string, q = '') => h.ok(token, 'GET', `${C1}/rooms/${enc(room)}/threads?${q}`);
  const ids = (r: any) => r.chunk.map((e: JsonObject) => e.event_id);
  const p1 = await threads(alice, 'limit=2');
  assert.deepEqual(ids(p1), [a, c]);
  assert.equal(p1.chunk[0].unsigned['m.relations']['m.thread'].count, 2);
  const p2 = await threads(alice, `limit=2&from=${enc(p1.next_batch)}`);
  assert.deepEqual(ids(p2), [b]);
  assert.equal(p2.next_batch, undefined);
  assert.deepEqual(ids(await threads(carol, 'include=participated')), [a]);
  assert.deepEqual(ids(await threads(alice, 'include=participated')), [a, c, b], 'the roots are hers');
  // Redacting the latest reply moves the thread back.
  const room2Redact = await h.call(bob, 'PUT', `${C}/rooms/${enc(room)}/redact/${enc(lastOnA)}/x1`, {});
  assert.equal(room2Redact.status, 200);
  assert.deepEqual(ids(await threads(alice)), [c, b, a]);
  // A root from an ignored user comes back redacted.
  h.ignored.set(bob, new Set([alice]));
  const ignoring = await threads(bob);
  assert.deepEqual(ignoring.chunk.map((e: JsonObject) => e.content), [{}, {}, {}]);
  h.ignored.delete(bob);
  for (const q of ['include=some', 'limit=0', 'from=zzz']) assert.equal((await h.call(alice, 'GET', `${C1}/rooms/${enc(room)}/threads?${q}`)).status, 400, q);
  assert.equal((await h.call(dave, 'GET', `${C1}/rooms/${enc(room)}/threads`)).status, 403);
});

test('timestamp_to_event finds the closest event each way', async () => {
  const room = await h.createRoom(alice, { preset: 'public_chat' });
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) ids.push(await h.send(alice, room, text(`t${i}`)));
  const events = await h.rooms.store.getEventList(ids);
  const ts = events.map((e) => e.originServerTs);
  const lookup = (q: string, token = alice) => h.call(token, 'GET', `${C1}/rooms/${enc(room)}/timestamp_to_event?${q}`);
  assert.deepEqual((await lookup(`ts=${ts[1]}&dir=f`)).json, { event_id: ids[1], origin_server_ts: ts[1] });
  assert.equal((await lookup(`ts=${ts[1]! + 1}&dir=b`)).json.event_id, ts[2] === ts[1]! + 1 ? ids[2] : ids[1]);
  assert.equal((await lookup(`ts=${ts[2]! - 1}&dir=f`)).json.event_id, ts[1] === ts[2]! - 1 ? ids[1] : ids[2]);
  assert.equal((await lookup(`ts=${ts[3]! + 1000}&dir=f`)).status, 404);
  assert.equal((await lookup(`ts=1&dir=b`)).status, 404);
  assert.equal((await lookup(`dir=f`)).status, 400);
  assert.equal((await lookup(`ts=1`)).status, 400);
  assert.equal((await lookup(`ts=abc&dir=f`)).status, 400);
  assert.equal((await lookup(`ts=1&dir=up`)).status, 400);
  assert.equal((await lookup(`ts=${ts[1]}&dir=f`, dave)).status, 403);
});

test('PUT /redact: idempotent, power levels apply, the target is served pruned with the reason', async () => {
  const target = await h.send(bob, roomId, { ...text('regrettable'), url: 'mxc://x/y' });
  const r1 = await redact(`${bob}|PHONE`, target, 'txn-a', { reason: 'oops' });
  assert.equal(r1.status, 200);
  const again = await redact(`${bob}|PHONE`, target, 'txn-a', { reason: 'oops' });
  assert.equal(again.json.event_id, r1.json.event_id, 'same transaction, same event');
  const ev = await served(alice, target);
  assert.deepEqual(ev.content, {});
  assert.equal(ev.unsigned.redacted_because.event_id, r1.json.event_id);
  assert.equal(ev.unsigned.redacted_because.content.reason, 'oops');
  const redaction = await served(`${bob}|PHONE`, r1.json.event_id);
  assert.equal(redaction.unsigned.transaction_id, 'txn-a', 'echoed to the sending device');
  assert.equal(redaction.redacts, target);
  // Without the redact level one may not redact others' events; moderators may.
  const aliceMsg = await h.send(alice, roomId, text('mine'));
  const denied = await redact(carol, aliceMsg, 'c1');
  assert.equal(denied.status, 403);
  assert.equal(denied.json.errcode, 'M_FORBIDDEN');
  const bobMsg = await h.send(bob, roomId, text('bob says'));
  assert.equal((await redact(alice, bobMsg, 'a1')).status, 200);
  // Malformed input.
  assert.equal((await redact(alice, 'nope', 'a2')).status, 400);
  assert.equal((await redact(alice, bobMsg, 'a3', { reason: 5 })).status, 400);
  assert.equal((await redact(alice, bobMsg, 'a4', '[1]')).status, 400);
  const unknownRoom = await h.call(alice, 'PUT', `${C}/rooms/${enc('!nowhere:test.local')}/redact/${enc(bobMsg)}/a5`, {});
  assert.equal(unknownRoom.status, 404);
});

test('response shapes match the spec', async () => {
  const spec = specPresent('room-api relations');
  if (!spec) return;
  const root = await h.send(alice, roomId, text('shape root'));
  await h.send(bob, roomId, reply(root, 'shape reply'));
  await h.send(bob, roomId, { ...text('shape ref'), ...rel('m.reference', root) });
  const relations = await h.ok(alice, 'GET', `${C1}/rooms/${enc(roomId)}/relations/${enc(root)}?limit=1&recurse=true`);
  assertResponseShape('relations.yaml', '/rooms/{roomId}/relations/{eventId}', 'get', 200, relations);
  assertResponseShape('relations.yaml', '/rooms/{roomId}/relations/{eventId}/{relType}', 'get', 200, await h.ok(alice, 'GET', `${C1}/rooms/${enc(roomId)}/relations/${enc(root)}/m.thread`));
  const threads = await h.ok(alice, 'GET', `${C1}/rooms/${enc(roomId)}/threads?limit=1`);
  assert.equal(threads.chunk.length, 1);
  assertResponseShape('threads_list.yaml', '/rooms/{roomId}/threads', 'get', 200, threads);
  const ts = (await h.rooms.store.getEvent(root))?.originServerTs;
  assertResponseShape('room_event_by_timestamp.yaml', '/rooms/{roomId}/timestamp_to_event', 'get', 200, await h.ok(alice, 'GET', `${C1}/rooms/${enc(roomId)}/timestamp_to_event?ts=${ts}&dir=f`));
  assertResponseShape('redaction.yaml', '/rooms/{roomId}/redact/{eventId}/{txnId}', 'put', 200, (await redact(alice, root, 'shape')).json);
});
