/**
 * /sync responses checked against the spec's OpenAPI (sync.yaml with every $ref inlined), from
 * /work/shared, which products never read. Skips loudly when the spec data is not on this machine.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { responseValidator, specPresent } from '../../../e2e/support/openapi.ts';
import { startHarness, V3, type Harness } from './harness.ts';

const present = specPresent('the /sync OpenAPI response-shape checks', 'sync.yaml');

let h: Harness;
test.before(async () => {
  if (present) h = await startHarness();
});
test.after(async () => {
  if (present) await h.close();
});

test('initial and incremental /sync responses match sync.yaml', { skip: !present }, async () => {
  const validate = responseValidator('sync.yaml', '/sync', 'get');
  const check = (body: unknown, what: string) => assert.ok(validate(body), `${what}: ${JSON.stringify(validate.errors)}\n${JSON.stringify(body).slice(0, 2000)}`);

  const enc = encodeURIComponent;
  const alice = await h.register('alice');
  const bob = await h.register('bob');
  const joined = await h.createRoom(bob, { preset: 'public_chat' });
  assert.equal((await h.call(alice, 'POST', `${V3}/join/${enc(joined)}`, {})).status, 200);
  const first = await h.send(bob, joined, 'hello');
  const initial = await h.sync(alice, { filter: { room: { state: { lazy_load_members: true } } } });
  check(initial.json, 'initial sync');
  assert.ok(initial.json.rooms.join[joined].summary['m.heroes']);

  const invited = await h.createRoom(bob, { name: 'Invite', invite: [alice.userId] });
  const knockable = await h.createRoom(bob, { name: 'Knock', initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }] });
  assert.equal((await h.call(alice, 'POST', `${V3}/knock/${enc(knockable)}`, {})).status, 200);
  const leaving = await h.createRoom(bob, { preset: 'public_chat', name: 'Leave' });
  assert.equal((await h.call(alice, 'POST', `${V3}/join/${enc(leaving)}`, {})).status, 200);
  assert.equal((await h.call(alice, 'POST', `${V3}/rooms/${enc(leaving)}/leave`, {})).status, 200);
  await h.call(bob, 'PUT', `${V3}/rooms/${enc(joined)}/typing/${enc(bob.userId)}`, { typing: true, timeout: 10_000 });
  await h.call(bob, 'POST', `${V3}/rooms/${enc(joined)}/receipt/m.read/${enc(first)}`, {});
  await h.call(alice, 'PUT', `${V3}/user/${enc(alice.userId)}/rooms/${enc(joined)}/tags/u.work`, { order: 1 });
  await h.call(alice, 'PUT', `${V3}/user/${enc(alice.userId)}/account_data/org.example.x`, { x: true });
  await h.call(bob, 'PUT', `${V3}/sendToDevice/m.test/shape`, { messages: { [alice.userId]: { '*': { hi: 1 } } } });
  await h.login('bob');
  await h.send(bob, joined, 'again');
  const inc = await h.sync(alice, { since: initial.json.next_batch });
  for (const section of ['join', 'invite', 'knock', 'leave']) assert.ok(inc.json.rooms[section], `rooms.${section} present`);
  assert.ok(inc.json.rooms.invite[invited] && inc.json.rooms.knock[knockable] && inc.json.rooms.leave[leaving]);
  assert.ok(inc.json.to_device && inc.json.device_lists && inc.json.account_data);
  check(inc.json, 'incremental sync');
  const after = await h.sync(alice, { since: initial.json.next_batch, use_state_after: true, filter: { event_format: 'federation' } });
  check(after.json, 'use_state_after + federation format');

  // The checker can fail: a broken shape is refused.
  const broken = structuredClone(inc.json);
  broken.rooms.join[joined].timeline.events = 'nope';
  assert.equal(validate(broken), false);
  assert.equal(validate({ rooms: {} }), false, 'next_batch is required');
});
