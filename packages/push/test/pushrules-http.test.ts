/**
 * The push rule endpoints over real HTTP against a real database: listing, CRUD with before/after
 * ordering, enabled/actions (including on server-default rules), every error path, and the stream.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SPEC_DEFAULT_PUSH_RULES,
  evaluatePushRules,
  getPushRulesAccountData,
  getPushRulesForUser,
  getPushRulesForUsers,
  usersWithPushRuleChanges,
} from '../src/index.ts';
import { clientFor, startPushTestEnv, type PushTestEnv } from './support.ts';

let env: PushTestEnv;
before(async () => {
  env = await startPushTestEnv();
});
after(async () => {
  await env.close();
});

type Rule = Record<string, unknown> & { rule_id: string };
type Ruleset = Record<'override' | 'content' | 'room' | 'sender' | 'underride', Rule[]>;

const cond = (pattern: string) => ({ conditions: [{ kind: 'event_match', key: 'content.body', pattern }], actions: ['notify'] });

async function ids(userId: string, kind: keyof Ruleset, ownOnly = true): Promise<string[]> {
  const { json } = await clientFor(env, userId)('GET', '/global/');
  return (json as unknown as Ruleset)[kind].map((r) => r.rule_id).filter((id) => !ownOnly || !id.startsWith('.'));
}

test('GET /pushrules/ and /pushrules/global/: the defaults, with the user substituted', async () => {
  const call = clientFor(env, '@fresh:example.org');
  const all = await call('GET', '/');
  assert.equal(all.status, 200);
  const global = all.json.global as Ruleset;
  assert.deepEqual(Object.keys(global).sort(), ['content', 'override', 'room', 'sender', 'underride']);
  assert.deepEqual(global.override.map((r) => r.rule_id), SPEC_DEFAULT_PUSH_RULES.filter((r) => r.kind === 'override').map((r) => r.rule_id));
  const invite = global.override.find((r) => r.rule_id === '.m.rule.invite_for_me');
  assert.deepEqual(invite, {
    rule_id: '.m.rule.invite_for_me',
    default: true,
    enabled: true,
    actions: ['notify', { set_tweak: 'sound', value: 'default' }],
    conditions: [
      { kind: 'event_match', key: 'type', pattern: 'm.room.member' },
      { kind: 'event_match', key: 'content.membership', pattern: 'invite' },
      { kind: 'event_match', key: 'state_key', pattern: '@fresh:example.org' },
    ],
  });
  const g = await call('GET', '/global/');
  assert.equal(g.status, 200);
  assert.deepEqual(g.json, global);
  // /sync's m.push_rules content is the same document.
  assert.deepEqual(await getPushRulesAccountData(env.db.sql, '@fresh:example.org'), all.json);
  // Reads write nothing.
  assert.equal(env.changes.filter((c) => c.users?.includes('@fresh:example.org')).length, 0);
});

test('PUT creates a rule, GET reads it back, and the change goes through the push_rules stream', async () => {
  const user = '@cake:example.org';
  const call = clientFor(env, user);
  const before = env.changes.length;
  const put = await call('PUT', '/global/content/nocake', { pattern: 'cake*lie', actions: ['notify'] });
  assert.deepEqual([put.status, put.json], [200, {}]);
  const got = await call('GET', '/global/content/nocake');
  assert.deepEqual([got.status, got.json], [200, { rule_id: 'nocake', default: false, enabled: true, actions: ['notify'], pattern: 'cake*lie' }]);
  assert.equal(env.changes.length, before + 1);
  const change = env.changes.at(-1);
  assert.equal(change?.stream, 'push_rules');
  assert.deepEqual(change?.users, [user]);
  const rows = await env.db.sql<{ stream_id: number; op: string; kind: string; rule_id: string }[]>`
    SELECT stream_id, op, kind, rule_id FROM push_rules_stream WHERE user_id = ${user}`;
  assert.deepEqual(rows.map((r) => [r.stream_id, r.op, r.kind, r.rule_id]), [[change?.position, 'put', 'content', 'nocake']]);
  assert.ok(env.writer.position >= (change?.position ?? Infinity), 'the writer position covers the change');
  const changed = await usersWithPushRuleChanges(env.db.sql, [user, '@fresh:example.org'], 0, env.writer.position);
  assert.deepEqual([...changed], [user]);
  assert.equal((await usersWithPushRuleChanges(env.db.sql, [user], change?.position ?? 0, env.writer.position)).size, 0);
});

test('ordering: newest first without placement, before/after relative to user rules', async () => {
  const user = '@order:example.org';
  const call = clientFor(env, user);
  const put = async (id: string, query = '') => {
    const r = await call('PUT', `/global/override/${id}${query}`, cond(id));
    assert.equal(r.status, 200, `${id}${query}: ${JSON.stringify(r.json)}`);
  };
  await put('a');
  await put('b');
  assert.deepEqual(await ids(user, 'override'), ['b', 'a']);
  await put('c', '?before=a');
  assert.deepEqual(await ids(user, 'override'), ['b', 'c', 'a']);
  await put('d', '?after=b');
  assert.deepEqual(await ids(user, 'override'), ['b', 'd', 'c', 'a']);
  await put('e', '?after=a');
  assert.deepEqual(await ids(user, 'override'), ['b', 'd', 'c', 'a', 'e']);
  await put('a', '?before=b');
  assert.deepEqual(await ids(user, 'override'), ['a', 'b', 'd', 'c', 'e'], 'an existing rule can be moved');
  await put('f', '?before=c&after=e');
  assert.deepEqual(await ids(user, 'override'), ['a', 'b', 'd', 'f', 'c', 'e'], 'before wins over after');
  await put('e');
  assert.deepEqual(await ids(user, 'override'), ['e', 'a', 'b', 'd', 'f', 'c'], 'an update without placement moves to the top (as Synapse)');
  // Master stays first, the user's rules next, the other defaults after them.
  const all = await ids(user, 'override', false);
  assert.equal(all[0], '.m.rule.master');
  assert.deepEqual(all.slice(1, 7), ['e', 'a', 'b', 'd', 'f', 'c']);
  assert.equal(all[7], '.m.rule.suppress_notices');
  // Kinds are ordered independently.
  await call('PUT', '/global/underride/a', cond('x'));
  assert.deepEqual(await ids(user, 'underride'), ['a']);
  // The evaluator sees the same order.
  const rules = await getPushRulesForUser(env.db.sql, user);
  const hit = evaluatePushRules(rules, { type: 'm.room.message', sender: '@x:y', room_id: '!r:y', content: { body: 'a b c' } }, { userId: user, roomMemberCount: 3, senderPowerLevel: 0 });
  assert.equal(hit.ruleId, 'a');
});

test('before/after must name an existing user rule of the same kind (400)', async () => {
  const call = clientFor(env, '@anchor:example.org');
  await call('PUT', '/global/override/x', cond('x'));
  for (const q of ['?before=nope', '?after=nope', '?before=.m.rule.master', '?after=.m.rule.suppress_notices', '?before=y']) {
    const r = await call('PUT', `/global/override/y${q}`, cond('y'));
    assert.equal(r.status, 400, q);
    assert.equal(r.json.errcode, 'M_UNKNOWN', q);
    assert.match(String(r.json.error), /before\/after rule not found/);
  }
  const self = await call('PUT', '/global/override/x?before=x', cond('x'));
  assert.equal(self.status, 400, 'not relative to itself');
  const otherKind = await call('PUT', '/global/underride/z?before=x', cond('z'));
  assert.equal(otherKind.status, 400, 'anchors are looked up within the kind');
  assert.deepEqual(await ids('@anchor:example.org', 'override'), ['x']);
  assert.deepEqual(await ids('@anchor:example.org', 'underride'), []);
});

test('PUT validation: reserved and malformed IDs, missing parameters, bad actions and bodies', async () => {
  const call = clientFor(env, '@bad:example.org');
  const cases: [string, unknown, number, string][] = [
    ['/global/override/.mine', cond('x'), 400, 'M_INVALID_PARAM'],
    ['/global/override/.m.rule.master', { conditions: [], actions: [] }, 400, 'M_INVALID_PARAM'],
    ['/global/content/a%2Fb', { pattern: 'x', actions: [] }, 400, 'M_INVALID_PARAM'],
    ['/global/content/a%5Cb', { pattern: 'x', actions: [] }, 400, 'M_INVALID_PARAM'],
    ['/global/content/a%00b', { pattern: 'x', actions: [] }, 400, 'M_INVALID_PARAM'],
    [`/global/content/${'x'.repeat(1100)}`, { pattern: 'x', actions: [] }, 400, 'M_INVALID_PARAM'],
    ['/global/override/nocond', { actions: ['notify'] }, 400, 'M_MISSING_PARAM'],
    ['/global/underride/nocond', { actions: ['notify'] }, 400, 'M_MISSING_PARAM'],
    ['/global/content/nopattern', { actions: ['notify'] }, 400, 'M_MISSING_PARAM'],
    ['/global/content/nullpattern', { pattern: null, actions: ['notify'] }, 400, 'M_BAD_JSON'],
    ['/global/content/nulpattern', { pattern: 'a\u0000b', actions: ['notify'] }, 400, 'M_INVALID_PARAM'],
    ['/global/room/!r:example.org', {}, 400, 'M_MISSING_PARAM'],
    ['/global/room/!r:example.org', { actions: 'notify' }, 400, 'M_BAD_JSON'],
    ['/global/room/!r:example.org', { actions: [1] }, 400, 'M_BAD_JSON'],
    ['/global/room/!r:example.org', { actions: ['explode'] }, 400, 'M_INVALID_PARAM'],
    ['/global/room/!r:example.org', { actions: [{ value: 'x' }] }, 400, 'M_INVALID_PARAM'],
    ['/global/room/!r:example.org', { actions: [{ set_tweak: 5 }] }, 400, 'M_INVALID_PARAM'],
    ['/global/override/c', { conditions: {}, actions: [] }, 400, 'M_BAD_JSON'],
    ['/global/override/c', { conditions: [{ key: 'type' }], actions: [] }, 400, 'M_MISSING_PARAM'],
    ['/global/override/c', { conditions: ['x'], actions: [] }, 400, 'M_BAD_JSON'],
    ['/global/override/c', { conditions: [{ kind: 'event_property_is', key: 'k', value: { a: 1 } }], actions: [] }, 400, 'M_BAD_JSON'],
    ['/global/override/c', { conditions: [{ kind: 'room_member_count', is: 2 }], actions: [] }, 400, 'M_BAD_JSON'],
    ['/global/override/c', '{not json', 400, 'M_NOT_JSON'],
    ['/global/override/c', '[]', 400, 'M_BAD_JSON'],
  ];
  for (const [path, body, status, errcode] of cases) {
    const r = await call('PUT', path, body);
    assert.deepEqual([r.status, r.json.errcode], [status, errcode], `${path.slice(0, 60)} ${JSON.stringify(body)}: ${JSON.stringify(r.json)}`);
  }
  assert.deepEqual(await ids('@bad:example.org', 'override'), []);
  assert.deepEqual(await ids('@bad:example.org', 'content'), []);
  assert.deepEqual(await ids('@bad:example.org', 'room'), []);
});

test('unknown conditions and extra fields are accepted (the rule just never matches)', async () => {
  const user = '@lenient:example.org';
  const call = clientFor(env, user);
  const body = { conditions: [{ kind: 'org.example.future', extra: [1, 2] }], actions: ['notify', { set_tweak: 'sound', value: 'x', extra: true }], note: 'ignored' };
  assert.equal((await call('PUT', '/global/override/future', body)).status, 200);
  const got = await call('GET', '/global/override/future');
  assert.deepEqual(got.json.conditions, body.conditions);
  assert.deepEqual(got.json.actions, body.actions);
  const rules = await getPushRulesForUser(env.db.sql, user);
  const r = evaluatePushRules(rules, { type: 'm.room.message', sender: '@x:y', room_id: '!r:y', content: { body: 'hi' } }, { userId: user, roomMemberCount: 5, senderPowerLevel: 0 });
  assert.equal(r.ruleId, '.m.rule.message');
  // Strings Postgres text cannot hold (NUL, lone surrogates) survive inside conditions and actions.
  const odd = { conditions: [{ kind: 'event_match', key: 'content.a\u0000', pattern: 'x\ud800y' }], actions: [{ set_tweak: 't', value: '\u0000' }] };
  assert.equal((await call('PUT', '/global/override/odd', odd)).status, 200);
  const back = await call('GET', '/global/override/odd');
  assert.deepEqual([back.json.conditions, back.json.actions], [odd.conditions, odd.actions]);
});

test('room and sender rules: the rule ID is the room or user, no conditions or pattern', async () => {
  const user = '@mute:example.org';
  const call = clientFor(env, user);
  assert.equal((await call('PUT', `/global/room/${encodeURIComponent('!spam:example.org')}`, { actions: [] })).status, 200);
  assert.equal((await call('PUT', `/global/sender/${encodeURIComponent('@spambot:example.org')}`, { actions: ['dont_notify'] })).status, 200);
  const { json } = await call('GET', '/global/');
  const set = json as unknown as Ruleset;
  assert.deepEqual(set.room, [{ rule_id: '!spam:example.org', default: false, enabled: true, actions: [] }]);
  assert.deepEqual(set.sender, [{ rule_id: '@spambot:example.org', default: false, enabled: true, actions: [] }], 'dont_notify is dropped');
  const rules = await getPushRulesForUser(env.db.sql, user);
  const ctx = { userId: user, roomMemberCount: 5, senderPowerLevel: 0 };
  const msg = (room: string, sender: string) => ({ type: 'm.room.message', sender, room_id: room, content: { body: 'buy now' } });
  assert.equal(evaluatePushRules(rules, msg('!spam:example.org', '@x:example.org'), ctx).notify, false);
  assert.equal(evaluatePushRules(rules, msg('!ok:example.org', '@spambot:example.org'), ctx).notify, false);
  assert.equal(evaluatePushRules(rules, msg('!ok:example.org', '@x:example.org'), ctx).notify, true);
});

test('GET/PUT enabled and actions on user rules; an update keeps the enabled state', async () => {
  const call = clientFor(env, '@toggle:example.org');
  await call('PUT', '/global/content/tea', { pattern: 'tea', actions: ['notify'] });
  assert.deepEqual((await call('GET', '/global/content/tea/enabled')).json, { enabled: true });
  assert.deepEqual((await call('PUT', '/global/content/tea/enabled', { enabled: false })).json, {});
  assert.deepEqual((await call('GET', '/global/content/tea/enabled')).json, { enabled: false });
  const actions = ['notify', { set_tweak: 'sound', value: 'bing' }];
  assert.equal((await call('PUT', '/global/content/tea/actions', { actions: [...actions, 'coalesce'] })).status, 200);
  assert.deepEqual((await call('GET', '/global/content/tea/actions')).json, { actions });
  await call('PUT', '/global/content/tea', { pattern: 'tea*', actions: ['notify'] });
  const got = await call('GET', '/global/content/tea');
  assert.deepEqual(got.json, { rule_id: 'tea', default: false, enabled: false, actions: ['notify'], pattern: 'tea*' });
  const ops = await env.db.sql<{ op: string }[]>`SELECT op FROM push_rules_stream WHERE user_id = '@toggle:example.org' ORDER BY stream_id`;
  assert.deepEqual(ops.map((o) => o.op), ['put', 'enabled', 'actions', 'put']);
});

test('server-default rules: enabled and actions can be changed per user, nothing else', async () => {
  const user = '@quiet:example.org';
  const call = clientFor(env, user);
  assert.deepEqual((await call('GET', '/global/override/.m.rule.master/enabled')).json, { enabled: false });
  assert.deepEqual((await call('GET', '/global/underride/.m.rule.call/actions')).json, { actions: ['notify', { set_tweak: 'sound', value: 'ring' }] });
  assert.equal((await call('PUT', '/global/underride/.m.rule.message/enabled', { enabled: false })).status, 200);
  assert.equal((await call('PUT', '/global/underride/.m.rule.call/actions', { actions: ['notify'] })).status, 200);
  assert.deepEqual((await call('GET', '/global/underride/.m.rule.message/enabled')).json, { enabled: false });
  assert.deepEqual((await call('GET', '/global/underride/.m.rule.call/actions')).json, { actions: ['notify'] });
  const message = await call('GET', '/global/underride/.m.rule.message');
  assert.deepEqual(message.json, {
    rule_id: '.m.rule.message',
    default: true,
    enabled: false,
    actions: ['notify'],
    conditions: [{ kind: 'event_match', key: 'type', pattern: 'm.room.message' }],
  });
  // Changing one field keeps the other.
  assert.equal((await call('PUT', '/global/underride/.m.rule.call/enabled', { enabled: false })).status, 200);
  assert.deepEqual((await call('GET', '/global/underride/.m.rule.call/actions')).json, { actions: ['notify'] });
  // Other users are unaffected.
  assert.deepEqual((await clientFor(env, '@loud:example.org')('GET', '/global/underride/.m.rule.message/enabled')).json, { enabled: true });
  // And the evaluator follows.
  const rules = await getPushRulesForUser(env.db.sql, user);
  const r = evaluatePushRules(rules, { type: 'm.room.message', sender: '@x:y', room_id: '!r:y', content: { body: 'hi' } }, { userId: user, roomMemberCount: 5, senderPowerLevel: 0 });
  assert.equal(r.notify, false);
  // Default rules cannot be deleted, nor looked up under the wrong kind.
  const del = await call('DELETE', '/global/underride/.m.rule.message');
  assert.deepEqual([del.status, del.json.errcode], [400, 'M_INVALID_PARAM']);
  assert.equal((await call('GET', '/global/override/.m.rule.message')).status, 404);
  assert.equal((await call('PUT', '/global/override/.m.rule.message/enabled', { enabled: true })).status, 404);
  // The spec no longer has the legacy rules.
  assert.equal((await call('GET', '/global/override/.m.rule.contains_display_name')).status, 404);
});

test('DELETE removes a user rule; missing rules are 404 everywhere', async () => {
  const user = '@del:example.org';
  const call = clientFor(env, user);
  await call('PUT', '/global/override/gone', cond('x'));
  assert.deepEqual(await call('DELETE', '/global/override/gone'), { status: 200, json: {} });
  for (const [method, path, body] of [
    ['GET', '/global/override/gone', undefined],
    ['DELETE', '/global/override/gone', undefined],
    ['GET', '/global/override/gone/enabled', undefined],
    ['PUT', '/global/override/gone/enabled', { enabled: true }],
    ['GET', '/global/override/gone/actions', undefined],
    ['PUT', '/global/override/gone/actions', { actions: [] }],
    ['DELETE', '/global/override/.m.rule.nonexistent', undefined],
    ['GET', '/global/override/a%00b', undefined],
    ['PUT', '/global/override/a%00b/enabled', { enabled: true }],
  ] as const) {
    const r = await call(method, path, body);
    assert.deepEqual([r.status, r.json.errcode], [404, 'M_NOT_FOUND'], `${method} ${path}`);
  }
  const ops = await env.db.sql<{ op: string }[]>`SELECT op FROM push_rules_stream WHERE user_id = ${user} ORDER BY stream_id`;
  assert.deepEqual(ops.map((o) => o.op), ['put', 'delete'], 'failed writes leave no stream rows');
});

test('routing and auth errors', async () => {
  const call = clientFor(env, '@route:example.org');
  assert.deepEqual([(await call('GET', '/global/bogus/x')).status, (await call('GET', '/global/bogus/x')).json.errcode], [404, 'M_UNRECOGNIZED']);
  assert.equal((await call('GET', '/device/override/x')).status, 404);
  assert.equal((await call('POST', '/global/override/x', {})).status, 405);
  const enabled = await call('PUT', '/global/override/.m.rule.master/enabled', { enabled: 'yes' });
  assert.deepEqual([enabled.status, enabled.json.errcode], [400, 'M_BAD_JSON']);
  const missing = await call('PUT', '/global/override/.m.rule.master/enabled', {});
  assert.deepEqual([missing.status, missing.json.errcode], [400, 'M_MISSING_PARAM']);
  const guest = await clientFor(env, 'guest:@g:example.org')('GET', '/');
  assert.deepEqual([guest.status, guest.json.errcode], [403, 'M_GUEST_ACCESS_FORBIDDEN']);
  const anon = await fetch(`${env.app.baseUrl}/_matrix/client/v3/pushrules/`);
  assert.equal(anon.status, 401);
  const r0 = await fetch(`${env.app.baseUrl}/_matrix/client/r0/pushrules/global/`, { headers: { Authorization: 'Bearer @route:example.org' } });
  assert.equal(r0.status, 200);
});

test('concurrent writes by one user are serialised', async () => {
  const user = '@busy:example.org';
  const call = clientFor(env, user);
  const results = await Promise.all(Array.from({ length: 12 }, (_, i) => call('PUT', `/global/override/r${i}`, cond(`w${i}`))));
  assert.ok(results.every((r) => r.status === 200));
  const prios = await env.db.sql<{ priority: number }[]>`SELECT priority FROM push_rules WHERE user_id = ${user}`;
  assert.equal(new Set(prios.map((p) => p.priority)).size, 12, 'distinct priorities');
});

test('getPushRulesForUsers: one query for many users; users without rules share the defaults', async () => {
  const a = '@batch-a:example.org';
  await clientFor(env, a)('PUT', '/global/override/first', cond('one'));
  await clientFor(env, a)('PUT', '/global/underride/.m.rule.message/enabled', { enabled: false });
  const map = await getPushRulesForUsers(env.db.sql, [a, '@batch-b:example.org', '@batch-c:example.org']);
  assert.equal(map.get('@batch-b:example.org'), SPEC_DEFAULT_PUSH_RULES);
  assert.equal(map.get('@batch-c:example.org'), SPEC_DEFAULT_PUSH_RULES);
  const rules = map.get(a) ?? [];
  assert.deepEqual(rules.slice(0, 2).map((r) => r.rule_id), ['.m.rule.master', 'first']);
  assert.equal(rules.find((r) => r.rule_id === '.m.rule.message')?.enabled, false);
  assert.deepEqual(rules, await getPushRulesForUser(env.db.sql, a));
  assert.equal((await getPushRulesForUsers(env.db.sql, [])).size, 0);
});

test('legacy mention rules can be switched on', async () => {
  const legacy = await startPushTestEnv({ legacyMentionRules: true });
  try {
    const call = clientFor(legacy, '@alice:example.org');
    const rule = await call('GET', '/global/content/.m.rule.contains_user_name');
    assert.deepEqual(rule.json, {
      rule_id: '.m.rule.contains_user_name',
      default: true,
      enabled: true,
      actions: ['notify', { set_tweak: 'sound', value: 'default' }, { set_tweak: 'highlight' }],
      pattern: 'alice',
    });
    assert.equal((await call('PUT', '/global/override/.m.rule.roomnotif/enabled', { enabled: false })).status, 200);
    assert.deepEqual((await call('GET', '/global/override/.m.rule.roomnotif/enabled')).json, { enabled: false });
  } finally {
    await legacy.close();
  }
});

test('a process without the push_rules writer serves reads but not writes', async () => {
  const reader = await startPushTestEnv({ pushRulesWriter: undefined });
  try {
    const call = clientFor(reader, '@r:example.org');
    assert.equal((await call('GET', '/')).status, 200);
    assert.equal((await call('PUT', '/global/override/x', cond('x'))).status, 500);
  } finally {
    await reader.close();
  }
});
