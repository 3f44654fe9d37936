import test from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '@hs/core';
import { PresenceHandler } from '../src/presence-handler.ts';
import { DEFAULT_PRESENCE_TIMINGS, applyLocalTimeout, defaultPresence, formatPresence, shouldNotify } from '../src/presence-state.ts';
import { getPresence, getPresenceUpdates } from '../src/presence-store.ts';
import { enc, startHarness, type Harness } from './support.ts';

const ROOM = '!room:test';
const ALICE = '@alice:test';
const BOB = '@bob:test';
const STRANGER = '@stranger:test';
const statusPath = (user: string) => `/_matrix/client/v3/presence/${enc(user)}/status`;
const MIN = 60_000;

let h: Harness;
test.before(async () => {
  h = await startHarness();
  h.world.join(ROOM, ALICE, BOB);
});
test.after(() => h.close());

test('PUT then GET own presence; others sharing a room can read it', async () => {
  const from = h.presenceStream.position;
  h.changes.length = 0;
  assert.deepEqual(await h.call('PUT', statusPath(ALICE), { as: ALICE, body: { presence: 'online', status_msg: 'Here' } }), { status: 200, json: {} });
  assert.ok(h.changes.some((c) => c.stream === 'presence' && c.users?.includes(ALICE)));
  h.clock.advance(1500);
  const own = await h.call('GET', statusPath(ALICE), { as: ALICE });
  assert.deepEqual(own, { status: 200, json: { presence: 'online', last_active_ago: 1500, status_msg: 'Here', currently_active: true } });
  assert.deepEqual((await h.call('GET', statusPath(ALICE), { as: BOB })).json, own.json);
  const updates = await getPresenceUpdates(h.db.sql, [ALICE, BOB], from, h.presenceStream.position, { now: h.clock.t });
  assert.deepEqual(updates, [{ type: 'm.presence', sender: ALICE, content: own.json }]);
  // Omitting status_msg clears it.
  await h.call('PUT', statusPath(ALICE), { as: ALICE, body: { presence: 'unavailable' } });
  const after = await h.call('GET', statusPath(ALICE), { as: ALICE });
  assert.equal(after.json.presence, 'unavailable');
  assert.equal(after.json.status_msg, undefined);
  assert.equal(after.json.currently_active, undefined, 'only online users carry currently_active');
  // Someone never seen is offline.
  assert.deepEqual((await h.call('GET', statusPath(BOB), { as: ALICE })).json, { presence: 'offline' });
});

test('presence errors: other user 403, no shared room 403, bad user ID 400, bad bodies 400', async () => {
  const other = await h.call('PUT', statusPath(BOB), { as: ALICE, body: { presence: 'online' } });
  assert.deepEqual([other.status, other.json.errcode], [403, 'M_FORBIDDEN']);
  const hidden = await h.call('GET', statusPath(ALICE), { as: STRANGER });
  assert.deepEqual([hidden.status, hidden.json.errcode], [403, 'M_FORBIDDEN']);
  const badId = await h.call('GET', statusPath('alice'), { as: ALICE });
  assert.deepEqual([badId.status, badId.json.errcode], [400, 'M_INVALID_PARAM']);
  for (const [body, code] of [
    [{}, 'M_MISSING_PARAM'],
    [{ presence: 'busy' }, 'M_INVALID_PARAM'],
    [{ presence: 'online', status_msg: 5 }, 'M_BAD_JSON'],
  ] as const) {
    const res = await h.call('PUT', statusPath(ALICE), { as: ALICE, body });
    assert.deepEqual([res.status, res.json.errcode], [400, code], JSON.stringify(body));
  }
});

test('idle for 5 minutes while syncing → unavailable; activity → online again', async () => {
  const carol = '@carol:test';
  const release = await h.presence.userSyncing(carol, 'online');
  try {
    assert.equal(h.presence.current(carol).state, 'online');
    assert.equal(h.presence.current(carol).currentlyActive, true);
    h.clock.advance(MIN + 1000);
    await h.presence.tick();
    assert.equal(h.presence.current(carol).state, 'online');
    assert.equal(h.presence.current(carol).currentlyActive, false, 'no longer currently active after a minute');
    const stored = await getPresence(h.db.sql, carol);
    assert.equal(stored?.currentlyActive, false, 'that change is announced');
    h.clock.advance(4 * MIN);
    await h.presence.tick();
    assert.equal(h.presence.current(carol).state, 'unavailable', 'idle for 5 minutes');
    assert.equal((await getPresence(h.db.sql, carol))?.state, 'unavailable');
    // A sync saying "online" does not wake an idle user; a pro-active action does.
    await h.presence.setFromSync(carol, 'online');
    assert.equal(h.presence.current(carol).state, 'unavailable');
    await h.presence.bumpActive(carol);
    assert.equal(h.presence.current(carol).state, 'online');
    assert.equal(h.presence.current(carol).currentlyActive, true);
  } finally {
    release();
  }
});

test('30 s after the last sync ends the user goes offline; a running sync keeps them on', async () => {
  const dan = '@dan:test';
  const release = await h.presence.userSyncing(dan, 'online');
  h.clock.advance(40_000);
  await h.presence.tick();
  assert.equal(h.presence.current(dan).state, 'online', 'still syncing');
  release();
  release(); // idempotent
  await new Promise((r) => setImmediate(r));
  h.clock.advance(20_000);
  await h.presence.tick();
  assert.equal(h.presence.current(dan).state, 'online', 'only 20 s since the sync ended');
  h.clock.advance(12_000);
  await h.presence.tick();
  assert.equal(h.presence.current(dan).state, 'offline');
  assert.equal((await getPresence(h.db.sql, dan))?.state, 'offline');
  // set_presence=offline on sync neither tracks nor changes anything.
  const r2 = await h.presence.userSyncing(dan, 'offline');
  r2();
  assert.equal(h.presence.current(dan).state, 'offline');
  // set_presence=unavailable brings them on as unavailable.
  await h.presence.setFromSync(dan, 'unavailable');
  assert.equal(h.presence.current(dan).state, 'unavailable');
});

test('readers: updates between stream positions; initial sync leaves offline users out', async () => {
  const eve = '@eve:test';
  const frank = '@frank:test';
  const p0 = h.presenceStream.position;
  await h.presence.setState(eve, 'online', 'hi');
  const p1 = h.presenceStream.position;
  await h.presence.setState(frank, 'offline', 'gone fishing');
  const p2 = h.presenceStream.position;
  assert.ok(p0 < p1 && p1 < p2);
  const first = await getPresenceUpdates(h.db.sql, [eve, frank], p0, p1, { now: h.clock.t });
  assert.deepEqual(first.map((e) => e.sender), [eve]);
  const second = await getPresenceUpdates(h.db.sql, [eve, frank], p1, p2, { now: h.clock.t });
  assert.deepEqual(second, [{ type: 'm.presence', sender: frank, content: { presence: 'offline', status_msg: 'gone fishing' } }]);
  const initial = await getPresenceUpdates(h.db.sql, [eve, frank], 0, p2, { now: h.clock.t });
  assert.deepEqual(initial.map((e) => e.sender), [eve]);
  assert.deepEqual(await getPresenceUpdates(h.db.sql, [], 0, p2), []);
  assert.deepEqual(await getPresenceUpdates(h.db.sql, [eve], p2, p2), []);
});

test('a restarted writer resumes timers for users who were on, and keeps status messages', async () => {
  const gina = '@gina:test';
  await h.presence.setState(gina, 'online', 'lunch');
  await h.presence.close();
  const restarted = await PresenceHandler.start({
    sql: h.db.sql,
    stream: h.presenceStream,
    notify: () => {},
    serverName: 'test',
    enabled: true,
    clock: h.clock.now,
    autoTick: false,
    tickMs: 1000,
    log: silentLogger,
  });
  try {
    assert.equal(restarted.current(gina).state, 'online');
    h.clock.advance(31_000 + 1000);
    await restarted.tick();
    assert.equal(restarted.current(gina).state, 'offline', 'not syncing after the restart');
    const release = await restarted.userSyncing(gina, 'online');
    release();
    assert.equal(restarted.current(gina).state, 'online');
    assert.equal(restarted.current(gina).statusMsg, 'lunch');
  } finally {
    await restarted.close();
  }
});

test('remote users: their server sets presence; 30 minutes without a refresh → offline; local IDs refused', async () => {
  const remote = '@zed:remote.example';
  await h.presence.applyRemote(remote, 'online', 'afar', 5000, true);
  assert.equal(h.presence.current(remote).state, 'online');
  assert.equal(h.presence.current(remote).lastActiveTs, h.clock.t - 5000);
  assert.equal((await getPresence(h.db.sql, remote))?.statusMsg, 'afar');
  h.clock.advance(29 * MIN);
  await h.presence.tick();
  assert.equal(h.presence.current(remote).state, 'online');
  h.clock.advance(2 * MIN);
  await h.presence.tick();
  assert.equal(h.presence.current(remote).state, 'offline');
  await h.presence.applyRemote('@local:test', 'online', null, undefined, true);
  assert.equal(h.presence.current('@local:test').state, 'offline', 'a remote server cannot set our users');
});

test('pure rules: notification decisions and formatting', () => {
  const t = DEFAULT_PRESENCE_TIMINGS;
  const base = { ...defaultPresence(ALICE), state: 'online' as const, lastActiveTs: 1000, currentlyActive: true };
  assert.equal(shouldNotify(base, { ...base }, t), false);
  assert.equal(shouldNotify(base, { ...base, statusMsg: 'x' }, t), true);
  assert.equal(shouldNotify(base, { ...base, lastActiveTs: 1000 + 2 * MIN }, t), false, 'bumps while currently active are quiet');
  assert.equal(shouldNotify(base, { ...base, currentlyActive: false }, t), true);
  const idle = { ...base, currentlyActive: false };
  assert.equal(shouldNotify(idle, { ...idle, lastActiveTs: 1000 + 2 * MIN }, t), true);
  assert.equal(applyLocalTimeout({ ...base, state: 'offline' }, 10 * MIN, false, t), null);
  assert.equal(applyLocalTimeout(base, 1000 + 10_000, true, t), null);
  assert.deepEqual(formatPresence({ ...defaultPresence(ALICE) }, 5), { presence: 'offline' });
});

test('with presence disabled PUT is accepted and ignored, GET says offline', async () => {
  const off = await startHarness({ presenceEnabled: false });
  try {
    off.world.join(ROOM, ALICE, BOB);
    assert.deepEqual(await off.call('PUT', statusPath(ALICE), { as: ALICE, body: { presence: 'online' } }), { status: 200, json: {} });
    assert.deepEqual(await off.call('GET', statusPath(ALICE), { as: ALICE }), { status: 200, json: { presence: 'offline' } });
    await off.presence.bumpActive(ALICE);
    const release = await off.presence.userSyncing(ALICE, 'online');
    release();
    const [row] = await off.db.sql`SELECT count(*)::int AS n FROM presence_stream`;
    assert.equal(row?.n, 0);
    assert.equal(off.changes.length, 0);
    // Bad bodies are still refused.
    assert.equal((await off.call('PUT', statusPath(ALICE), { as: ALICE, body: { presence: 'nope' } })).status, 400);
  } finally {
    await off.close();
  }
});
