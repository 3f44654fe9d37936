import test from 'node:test';
import assert from 'node:assert/strict';
import { ROOM_VERSIONS } from '@hs/events';
import { buildCapabilities } from '../src/capabilities.ts';
import { validateOpenIdToken } from '../src/openid.ts';
import { responseValidator, specPresent } from '../../../e2e/support/openapi.ts';
import { enc, startHarness, type Harness } from './support.ts';

const ALICE = '@alice:test';
const BOB = '@bob:test';
const ROOM = '!room:test';
const C = '/_matrix/client/v3';
const noSpec = !specPresent('spec shape checks in misc.test.ts') && 'spec data not present';

let h: Harness;
test.before(async () => {
  h = await startHarness({ defaultRoomVersion: '10', capabilities: { changePassword: false } });
  h.rooms.rooms.add(ROOM);
  h.rooms.joined.add(`${ROOM}|${ALICE}`);
  h.rooms.events.set('$ev', ROOM);
  h.rooms.events.set('$elsewhere', '!other:test');
  h.rooms.users.add(BOB);
});
test.after(() => h.close());

test('GET /capabilities lists every room version as stable and the configured default', async () => {
  const res = await h.call('GET', `${C}/capabilities`, { as: ALICE });
  assert.equal(res.status, 200);
  const caps = res.json.capabilities as Record<string, Record<string, unknown>>;
  assert.deepEqual(caps['m.room_versions'], {
    default: '10',
    available: Object.fromEntries(Array.from({ length: 12 }, (_, i) => [String(i + 1), 'stable'])),
  });
  assert.deepEqual(caps['m.change_password'], { enabled: false });
  assert.deepEqual(caps['m.3pid_changes'], { enabled: false });
  assert.deepEqual(caps['m.get_login_token'], { enabled: false });
  assert.deepEqual(caps['m.set_displayname'], { enabled: true });
  assert.deepEqual(caps['m.profile_fields'], { enabled: true });
  assert.equal((await h.call('GET', `${C}/capabilities`)).status, 401);
});

test('capabilities: defaults, unknown default version falls back, profile fields agree with the old flags', () => {
  const caps = (o: Parameters<typeof buildCapabilities>[0]) => buildCapabilities(o).capabilities as Record<string, Record<string, unknown>>;
  assert.equal(caps({})['m.room_versions']?.default, '12');
  assert.equal(Object.keys(caps({})['m.room_versions']?.available as object).length, ROOM_VERSIONS.size);
  assert.equal(caps({ defaultRoomVersion: '99' })['m.room_versions']?.default, '12');
  assert.deepEqual(caps({ setDisplayname: false })['m.profile_fields'], { enabled: true, disallowed: ['displayname'] });
  assert.deepEqual(caps({ customProfileFields: false })['m.profile_fields'], { enabled: true, allowed: ['displayname', 'avatar_url'] });
  assert.deepEqual(caps({ customProfileFields: false, setDisplayname: false, setAvatarUrl: false })['m.profile_fields'], { enabled: false });
});

test('capabilities response matches the spec schema', { skip: noSpec }, async () => {
  const validate = responseValidator('capabilities.yaml', '/capabilities', 'get');
  const res = await h.call('GET', `${C}/capabilities`, { as: ALICE });
  assert.ok(validate(res.json), JSON.stringify(validate.errors));
  for (const o of [{}, { setDisplayname: false }, { customProfileFields: false, setDisplayname: false, setAvatarUrl: false }]) {
    assert.ok(validate(buildCapabilities(o)), JSON.stringify(validate.errors));
  }
  assert.equal(validate({ capabilities: { 'm.room_versions': { default: '12' } } }), false, 'the schema can fail');
});

test('OpenID: a token for yourself, valid until it expires, stored hashed; others 403', async () => {
  const res = await h.call('POST', `${C}/user/${enc(ALICE)}/openid/request_token`, { as: ALICE, body: {} });
  assert.equal(res.status, 200);
  assert.equal(res.json.token_type, 'Bearer');
  assert.equal(res.json.matrix_server_name, 'test');
  assert.equal(res.json.expires_in, 3600);
  const token = res.json.access_token as string;
  assert.ok(token.length >= 40);
  assert.equal(await validateOpenIdToken(h.db.sql, token, h.clock.t), ALICE);
  assert.equal(await validateOpenIdToken(h.db.sql, token, h.clock.t + 3600 * 1000), null, 'expired');
  assert.equal(await validateOpenIdToken(h.db.sql, `${token}x`, h.clock.t), null);
  assert.equal(await validateOpenIdToken(h.db.sql, '', h.clock.t), null);
  const stored = await h.db.sql`SELECT token_hash FROM open_id_tokens`;
  assert.ok(stored.length > 0 && stored.every((r) => r.token_hash !== token));
  const other = await h.call('POST', `${C}/user/${enc(BOB)}/openid/request_token`, { as: ALICE, body: {} });
  assert.deepEqual([other.status, other.json.errcode], [403, 'M_FORBIDDEN']);
  const badBody = await h.call('POST', `${C}/user/${enc(ALICE)}/openid/request_token`, { as: ALICE, raw: '[]' });
  assert.equal(badBody.status, 400);
});

test('OpenID response matches the spec schema', { skip: noSpec }, async () => {
  const validate = responseValidator('openid.yaml', '/user/{userId}/openid/request_token', 'post');
  const res = await h.call('POST', `${C}/user/${enc(ALICE)}/openid/request_token`, { as: ALICE, body: {} });
  assert.ok(validate(res.json), JSON.stringify(validate.errors));
});

test('expired OpenID tokens are swept when new ones are issued', async () => {
  h.clock.t += 2 * 3600 * 1000;
  await h.call('POST', `${C}/user/${enc(ALICE)}/openid/request_token`, { as: ALICE, body: {} });
  const [row] = await h.db.sql`SELECT count(*)::int AS n FROM open_id_tokens`;
  assert.equal(row?.n, 1);
});

test('reporting an event: stored with reason and score; unknown, invisible or not joined → 404', async () => {
  const path = (room: string, ev: string) => `${C}/rooms/${enc(room)}/report/${enc(ev)}`;
  assert.deepEqual(await h.call('POST', path(ROOM, '$ev'), { as: ALICE, body: { reason: 'spam', score: -100 } }), { status: 200, json: {} });
  assert.equal((await h.call('POST', path(ROOM, '$ev'), { as: ALICE, body: { score: 'bad' } })).status, 200, 'score is no longer in the spec');
  const rows = await h.db.sql`SELECT room_id, event_id, user_id, reason, score, content FROM event_reports ORDER BY id`;
  assert.deepEqual(rows.map((r) => ({ ...r })), [
    { room_id: ROOM, event_id: '$ev', user_id: ALICE, reason: 'spam', score: -100, content: { reason: 'spam', score: -100 } },
    { room_id: ROOM, event_id: '$ev', user_id: ALICE, reason: null, score: null, content: { score: 'bad' } },
  ]);
  for (const [room, ev, who] of [
    [ROOM, '$missing', ALICE],
    [ROOM, '$elsewhere', ALICE],
    [ROOM, '$ev', BOB],
  ] as const) {
    const res = await h.call('POST', path(room, ev), { as: who, body: { reason: 'x' } });
    assert.deepEqual([res.status, res.json.errcode], [404, 'M_NOT_FOUND'], `${ev} as ${who}`);
  }
  const badReason = await h.call('POST', path(ROOM, '$ev'), { as: ALICE, body: { reason: 5 } });
  assert.deepEqual([badReason.status, badReason.json.errcode], [400, 'M_BAD_JSON']);
  const badId = await h.call('POST', path(ROOM, 'ev'), { as: ALICE, body: {} });
  assert.deepEqual([badId.status, badId.json.errcode], [400, 'M_INVALID_PARAM']);
  const noBody = await h.call('POST', path(ROOM, '$ev'), { as: ALICE });
  assert.equal(noBody.status, 400);
});

test('reporting a room: stored; unknown room 404; reason required', async () => {
  const path = (room: string) => `${C}/rooms/${enc(room)}/report`;
  assert.deepEqual(await h.call('POST', path(ROOM), { as: BOB, body: { reason: '' } }), { status: 200, json: {} });
  const rows = await h.db.sql`SELECT room_id, user_id, reason FROM room_reports`;
  assert.deepEqual(rows.map((r) => ({ ...r })), [{ room_id: ROOM, user_id: BOB, reason: '' }]);
  const unknown = await h.call('POST', path('!nope:test'), { as: BOB, body: { reason: 'x' } });
  assert.deepEqual([unknown.status, unknown.json.errcode], [404, 'M_NOT_FOUND']);
  const missing = await h.call('POST', path(ROOM), { as: BOB, body: {} });
  assert.deepEqual([missing.status, missing.json.errcode], [400, 'M_MISSING_PARAM']);
  assert.equal((await h.call('POST', `/_matrix/client/r0/rooms/${enc(ROOM)}/report`, { as: BOB, body: { reason: 'x' } })).status, 404, 'v3 only');
});

test('reporting a user: stored for existing local users, silently dropped otherwise', async () => {
  const path = (user: string) => `${C}/users/${enc(user)}/report`;
  assert.deepEqual(await h.call('POST', path(BOB), { as: ALICE, body: { reason: 'rude' } }), { status: 200, json: {} });
  assert.deepEqual(await h.call('POST', path('@ghost:test'), { as: ALICE, body: { reason: 'rude' } }), { status: 200, json: {} });
  assert.deepEqual(await h.call('POST', path('@someone:remote.example'), { as: ALICE, body: { reason: 'rude' } }), { status: 200, json: {} });
  const rows = await h.db.sql`SELECT target_user_id, user_id, reason FROM user_reports`;
  assert.deepEqual(rows.map((r) => ({ ...r })), [{ target_user_id: BOB, user_id: ALICE, reason: 'rude' }]);
  const long = await h.call('POST', path(BOB), { as: ALICE, body: { reason: 'x'.repeat(1001) } });
  assert.deepEqual([long.status, long.json.errcode], [400, 'M_BAD_JSON']);
  const badId = await h.call('POST', path('bob'), { as: ALICE, body: { reason: 'x' } });
  assert.deepEqual([badId.status, badId.json.errcode], [400, 'M_INVALID_PARAM']);
  const noReason = await h.call('POST', path(BOB), { as: ALICE, body: {} });
  assert.deepEqual([noReason.status, noReason.json.errcode], [400, 'M_MISSING_PARAM']);
});
