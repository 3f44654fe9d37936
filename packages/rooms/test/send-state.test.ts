import test from 'node:test';
import assert from 'node:assert/strict';
import { loadEventsForClient, serializeEvent } from '../src/client-events.ts';
import { C, SERVER, enc, startHarness } from './helpers.ts';
import type { Harness } from './helpers.ts';

let h: Harness;
test.before(async () => {
  h = await startHarness();
});
test.after(() => h.close());

const alice = `@alice:${SERVER}`;
const bob = `@bob:${SERVER}`;
const eve = `@eve:${SERVER}`;

async function room(body: unknown = {}): Promise<string> {
  const r = await h.call(alice, 'POST', `${C}/createRoom`, body);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.room_id as string;
}

test('send: event stored with content; retry with the same txn returns the same event, other devices get new ones', async () => {
  const roomId = await room();
  const path = `${C}/rooms/${enc(roomId)}/send/m.room.message/txn1`;
  const first = await h.call(`${alice}|D1`, 'PUT', path, { msgtype: 'm.text', body: 'hello' });
  assert.equal(first.status, 200);
  assert.match(first.json.event_id, /^\$/);
  const again = await h.call(`${alice}|D1`, 'PUT', path, { msgtype: 'm.text', body: 'hello' });
  assert.equal(again.json.event_id, first.json.event_id);
  const other = await h.call(`${alice}|D2`, 'PUT', path, { msgtype: 'm.text', body: 'hello' });
  assert.notEqual(other.json.event_id, first.json.event_id);

  // Concurrent retries of one transaction still yield one event.
  const p2 = `${C}/rooms/${enc(roomId)}/send/m.room.message/txn2`;
  const results = await Promise.all(Array.from({ length: 5 }, () => h.call(`${alice}|D1`, 'PUT', p2, { body: 'x', msgtype: 'm.text' })));
  assert.equal(new Set(results.map((r) => r.json.event_id)).size, 1);

  const ev = await h.call(`${alice}|D1`, 'GET', `${C}/rooms/${enc(roomId)}/event/${enc(first.json.event_id)}`);
  assert.equal(ev.status, 200);
  assert.deepEqual(ev.json.content, { msgtype: 'm.text', body: 'hello' });
  assert.equal(ev.json.room_id, roomId);
  assert.equal(ev.json.sender, alice);
  assert.equal(ev.json.unsigned.transaction_id, 'txn1', 'the sending device sees its transaction ID');
  assert.equal(ev.json.unsigned.membership, 'join');
  assert.equal(typeof ev.json.unsigned.age, 'number');
  const ev2 = await h.call(`${alice}|D2`, 'GET', `${C}/rooms/${enc(roomId)}/event/${enc(first.json.event_id)}`);
  assert.equal(ev2.json.unsigned.transaction_id, undefined, 'other devices do not');
});

test('send errors: not a member 403, unknown room 404, no body M_NOT_JSON, array body, floats, oversized', async () => {
  const roomId = await room({ room_version: '10' });
  const path = (t: string) => `${C}/rooms/${enc(roomId)}/send/m.room.message/${t}`;
  let r = await h.call(eve, 'PUT', path('a'), { body: 'hi' });
  assert.equal(r.status, 403);
  assert.equal(r.json.errcode, 'M_FORBIDDEN');
  r = await h.call(alice, 'PUT', `${C}/rooms/${enc(`!nope:${SERVER}`)}/send/m.room.message/a`, { body: 'hi' });
  assert.equal(r.status, 404);
  r = await h.call(alice, 'PUT', path('b'));
  assert.equal(r.status, 400);
  assert.equal(r.json.errcode, 'M_NOT_JSON');
  r = await h.call(alice, 'PUT', path('c'), [1, 2]);
  assert.equal(r.json.errcode, 'M_BAD_JSON');
  r = await h.call(alice, 'PUT', path('d'), { n: 1.5 });
  assert.equal(r.status, 400);
  assert.equal(r.json.errcode, 'M_BAD_JSON');
  r = await h.call(alice, 'PUT', path('e'), { body: 'x'.repeat(70_000) });
  assert.equal(r.status, 413);
  assert.equal(r.json.errcode, 'M_TOO_LARGE');
  r = await h.call(alice, 'PUT', `${C}/rooms/${enc(roomId)}/send/${'t'.repeat(300)}/f`, { body: 'x' });
  assert.equal(r.status, 413);
  r = await h.call(alice, 'PUT', `${C}/rooms/not-a-room/send/m.room.message/g`, { body: 'x' });
  assert.equal(r.status, 400);
  r = await h.call(undefined, 'PUT', path('h'), { body: 'x' });
  assert.equal(r.status, 401);
});

test('state: PUT and GET with an empty key (with and without the slash) and a key containing /', async () => {
  const roomId = await room();
  const base = `${C}/rooms/${enc(roomId)}/state`;
  let r = await h.call(alice, 'PUT', `${base}/m.room.name`, { name: 'one' });
  assert.equal(r.status, 200);
  const nameId = r.json.event_id;
  r = await h.call(alice, 'GET', `${base}/m.room.name`);
  assert.deepEqual(r.json, { name: 'one' });
  r = await h.call(alice, 'GET', `${base}/m.room.name/`);
  assert.deepEqual(r.json, { name: 'one' });
  r = await h.call(alice, 'PUT', `${base}/m.room.name/`, { name: 'two' });
  assert.notEqual(r.json.event_id, nameId);
  r = await h.call(alice, 'GET', `${base}/m.room.name?format=event`);
  assert.equal(r.json.type, 'm.room.name');
  assert.equal(r.json.state_key, '');
  assert.deepEqual(r.json.content, { name: 'two' });
  assert.deepEqual(r.json.unsigned.prev_content, { name: 'one' });
  assert.equal(r.json.unsigned.replaces_state, nameId);

  // Re-sending identical state returns the current event.
  const same = await h.call(alice, 'PUT', `${base}/m.room.name`, { name: 'two' });
  assert.equal(same.json.event_id, r.json.event_id);

  const key = 'a/b c';
  r = await h.call(alice, 'PUT', `${base}/org.example.thing/${enc(key)}`, { v: 1 });
  assert.equal(r.status, 200);
  r = await h.call(alice, 'GET', `${base}/org.example.thing/${enc(key)}`);
  assert.deepEqual(r.json, { v: 1 });
  r = await h.call(alice, 'GET', `${base}/org.example.thing/other`);
  assert.equal(r.status, 404);
  assert.equal(r.json.errcode, 'M_NOT_FOUND');
  r = await h.call(alice, 'GET', `${base}/m.room.name?format=weird`);
  assert.equal(r.json.errcode, 'M_INVALID_PARAM');

  const all = await h.call(alice, 'GET', base);
  assert.equal(all.status, 200);
  const keys = all.json.map((e: { type: string; state_key: string }) => `${e.type}|${e.state_key}`);
  assert.ok(keys.includes(`org.example.thing|${key}`));
  assert.ok(keys.includes('m.room.create|'));
  assert.equal(all.json.filter((e: { type: string }) => e.type === 'm.room.name').length, 1);
});

test('state: auth failures are 403 (power level, @-keys, non-members), guests may not set state', async () => {
  const roomId = await room({ preset: 'public_chat', room_version: '11' });
  assert.equal((await h.call(bob, 'POST', `${C}/join/${enc(roomId)}`, {})).status, 200);
  const base = `${C}/rooms/${enc(roomId)}/state`;
  let r = await h.call(bob, 'PUT', `${base}/m.room.name`, { name: 'mine' });
  assert.equal(r.status, 403);
  assert.equal(r.json.errcode, 'M_FORBIDDEN');
  r = await h.call(bob, 'PUT', `${base}/m.room.power_levels`, { users: { [bob]: 100 } });
  assert.equal(r.status, 403);
  r = await h.call(alice, 'PUT', `${base}/org.example/${enc(bob)}`, { x: 1 });
  assert.equal(r.status, 403, 'state keys starting with @ belong to that user');
  r = await h.call(eve, 'PUT', `${base}/org.example/k`, { x: 1 });
  assert.equal(r.status, 403);
  r = await h.call(`guest:${bob}`, 'PUT', `${base}/org.example/k`, { x: 1 });
  assert.equal(r.json.errcode, 'M_GUEST_ACCESS_FORBIDDEN');
  // A state key naming bob does not lower the level: state_default (50) still applies.
  r = await h.call(bob, 'PUT', `${base}/org.example/${enc(bob)}`, { x: 1 });
  assert.equal(r.status, 403);
  r = await h.call(alice, 'PUT', `${base}/m.room.power_levels`, {
    users: { [bob]: 50 },
    events: {},
    state_default: 50,
    invite: 0,
  });
  assert.equal(r.status, 200);
  r = await h.call(bob, 'PUT', `${base}/m.room.name`, { name: 'bob was here' });
  assert.equal(r.status, 200);
  r = await h.call(alice, 'PUT', `${base}/m.room.name`, '[1]');
  assert.equal(r.json.errcode, 'M_BAD_JSON');
  r = await h.call(alice, 'PUT', `${base}/m.room.name`);
  assert.equal(r.json.errcode, 'M_NOT_JSON');
  r = await h.call(alice, 'POST', `${base}/m.room.name`, {});
  assert.equal(r.status, 405);
});

test('state: canonical alias must be valid and point to the room', async () => {
  const roomId = await room({ room_alias_name: 'canon' });
  const other = await room({ room_alias_name: 'elsewhere' });
  assert.ok(other);
  const path = `${C}/rooms/${enc(roomId)}/state/m.room.canonical_alias`;
  let r = await h.call(alice, 'PUT', path, { alias: 'nonsense' });
  assert.equal(r.json.errcode, 'M_INVALID_PARAM');
  r = await h.call(alice, 'PUT', path, { alias: `#elsewhere:${SERVER}` });
  assert.equal(r.json.errcode, 'M_BAD_ALIAS');
  r = await h.call(alice, 'PUT', path, { alias: `#canon:${SERVER}`, alt_aliases: [`#missing:${SERVER}`] });
  assert.equal(r.json.errcode, 'M_BAD_ALIAS');
  r = await h.call(alice, 'PUT', path, { alias: `#canon:${SERVER}`, alt_aliases: 'x' });
  assert.equal(r.json.errcode, 'M_INVALID_PARAM');
  r = await h.call(alice, 'PUT', path, {});
  assert.equal(r.status, 200, 'removing aliases needs no check');
  r = await h.call(alice, 'PUT', path, { alias: `#canon:${SERVER}` });
  assert.equal(r.status, 200);
});

for (const version of ['10', '11'] as const) {
  test(`redaction via /send in v${version}: redacts placement, pruned content, redacted_because, permission`, async () => {
    const roomId = await room({ room_version: version, preset: 'public_chat' });
    await h.call(bob, 'POST', `${C}/rooms/${enc(roomId)}/join`, {});
    const send = (user: string, type: string, txn: string, content: unknown) =>
      h.call(user, 'PUT', `${C}/rooms/${enc(roomId)}/send/${type}/${txn}`, content);
    const msg = await send(bob, 'm.room.message', 'm1', { msgtype: 'm.text', body: 'secret' });
    const alicesMsg = await send(alice, 'm.room.message', 'm2', { msgtype: 'm.text', body: 'mine' });

    let r = await send(bob, 'm.room.redaction', 'r0', { redacts: alicesMsg.json.event_id });
    assert.equal(r.status, 403, 'bob may not redact alice without the redact level');
    r = await send(bob, 'm.room.redaction', 'r1', {});
    assert.equal(r.status, 400);

    const red = await send(bob, 'm.room.redaction', 'r2', { redacts: msg.json.event_id, reason: 'oops' });
    assert.equal(red.status, 200);
    const stored = await h.service.store.getEvent(red.json.event_id);
    if (version === '10') {
      assert.equal(stored?.pdu.redacts, msg.json.event_id, 'v10: redacts at the top level');
      assert.equal(stored?.pdu.content.redacts, undefined);
    } else {
      assert.equal(stored?.pdu.content.redacts, msg.json.event_id, 'v11: redacts in content');
      assert.equal(stored?.pdu.redacts, undefined);
    }
    const got = await h.call(alice, 'GET', `${C}/rooms/${enc(roomId)}/event/${enc(msg.json.event_id)}`);
    assert.equal(got.status, 200);
    assert.deepEqual(got.json.content, {}, 'served pruned');
    assert.equal(got.json.unsigned.redacted_because.event_id, red.json.event_id);
    assert.equal(got.json.unsigned.redacted_because.redacts, msg.json.event_id);
    assert.equal(got.json.unsigned.redacted_because.content.reason, 'oops');
    const original = await h.service.store.getEvent(msg.json.event_id);
    assert.equal(original?.pdu.content.body, 'secret', 'the stored JSON is untouched');

    // The room admin may redact anyone.
    r = await send(alice, 'm.room.redaction', 'r3', { redacts: alicesMsg.json.event_id });
    assert.equal(r.status, 200);
  });
}

test('relations are recorded from m.relates_to', async () => {
  const roomId = await room();
  const target = await h.call(alice, 'PUT', `${C}/rooms/${enc(roomId)}/send/m.room.message/t`, { body: 'x', msgtype: 'm.text' });
  const reaction = await h.call(alice, 'PUT', `${C}/rooms/${enc(roomId)}/send/m.reaction/r`, {
    'm.relates_to': { rel_type: 'm.annotation', event_id: target.json.event_id, key: '👍' },
  });
  const edit = await h.call(alice, 'PUT', `${C}/rooms/${enc(roomId)}/send/m.room.message/e`, {
    body: '* y',
    'm.new_content': { body: 'y' },
    'm.relates_to': { rel_type: 'm.replace', event_id: target.json.event_id },
  });
  const rows = await h.service.store.sql<{ event_id: string; relation_type: string; aggregation_key: string | null }[]>`
    SELECT event_id, relation_type, aggregation_key FROM event_relations WHERE relates_to_id = ${target.json.event_id} ORDER BY relation_type`;
  assert.deepEqual(rows.map((r) => [r.event_id, r.relation_type, r.aggregation_key]), [
    [reaction.json.event_id, 'm.annotation', '👍'],
    [edit.json.event_id, 'm.replace', null],
  ]);
});

test('serializeEvent: sync format drops room_id; transaction_id only for the sending device', async () => {
  const roomId = await room();
  const sent = await h.call(`${alice}|PHONE`, 'PUT', `${C}/rooms/${enc(roomId)}/send/m.room.message/s1`, { body: 'x' });
  const [src] = await loadEventsForClient(h.service.store, [sent.json.event_id]);
  assert.ok(src);
  const sync = serializeEvent(src, 'sync', { requester: { userId: alice, deviceId: 'PHONE' }, now: src.event.originServerTs + 5 });
  assert.equal(sync.room_id, undefined);
  assert.deepEqual(sync.unsigned, { age: 5, transaction_id: 's1' });
  const client = serializeEvent(src, 'client', { requester: { userId: alice, deviceId: 'LAPTOP' } });
  assert.equal(client.room_id, roomId);
  assert.equal((client.unsigned as { transaction_id?: string }).transaction_id, undefined);
  const other = serializeEvent(src, 'client', { requester: { userId: bob, deviceId: 'PHONE' } });
  assert.equal((other.unsigned as { transaction_id?: string }).transaction_id, undefined);
});

test('NUL characters anywhere in input are 4xx (or kept inside the JSON), never 5xx', async () => {
  const roomId = await room({ preset: 'public_chat' });
  const r0 = encodeURIComponent(roomId);
  const calls: Array<[string, string, unknown?]> = [
    ['PUT', `${C}/rooms/${r0}/state/org.example/a%00b`, { x: 1 }],
    ['PUT', `${C}/rooms/${r0}/state/org.ex%00ample`, { x: 1 }],
    ['GET', `${C}/rooms/${r0}/state/org.example/a%00b`],
    ['PUT', `${C}/rooms/${r0}/send/m.room%00message/t`, { body: 'x' }],
    ['PUT', `${C}/rooms/${r0}/send/m.room.message/t%00x`, { body: 'x' }],
    ['PUT', `${C}/rooms/${r0}%00/send/m.room.message/t`, { body: 'x' }],
    ['GET', `${C}/rooms/${r0}/event/%24a%00b`],
    ['GET', `${C}/rooms/${r0}%00/state`],
    ['GET', `${C}/rooms/${r0}/members?membership=join%00`],
    ['GET', `${C}/rooms/${r0}/members?at=s1%00`],
    ['POST', `${C}/join/%23a%00b:${SERVER}`, {}],
    ['POST', `${C}/rooms/${r0}/invite`, { user_id: '@a\u0000b:test.local' }],
    ['POST', `${C}/createRoom`, { room_alias_name: 'a\u0000b' }],
    ['POST', `${C}/createRoom`, { invite: ['@a\u0000b:test.local'] }],
    ['PUT', `${C}/rooms/${r0}/send/m.room.redaction/t2`, { redacts: '$a\u0000b' }],
    ['PUT', `${C}/rooms/${r0}/state/m.room.canonical_alias`, { alias: '#a\u0000b:test.local' }],
  ];
  for (const [method, path, body] of calls) {
    const r = await h.call(alice, method, path, body);
    assert.ok(r.status >= 400 && r.status < 500, `${method} ${path} → ${r.status} ${JSON.stringify(r.json)}`);
  }
  // Inside content, NUL is just JSON: stored and served back.
  const ok = [
    await h.call(alice, 'PUT', `${C}/rooms/${r0}/send/m.room.message/n1`, { body: 'a\u0000b' }),
    await h.call(alice, 'PUT', `${C}/rooms/${r0}/state/m.room.member/${encodeURIComponent(alice)}`, { membership: 'join', displayname: 'a\u0000b' }),
    await h.call(alice, 'PUT', `${C}/rooms/${r0}/send/m.reaction/n2`, { 'm.relates_to': { rel_type: 'm.annotation', event_id: '$x', key: 'a\u0000b' } }),
  ];
  for (const r of ok) assert.equal(r.status, 200, JSON.stringify(r.json));
  const got = await h.call(alice, 'GET', `${C}/rooms/${r0}/event/${encodeURIComponent(ok[0]?.json.event_id)}`);
  assert.equal(got.json.content.body, 'a\u0000b');
});
