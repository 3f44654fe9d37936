import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { silentLogger, type JsonValue } from '@hs/core';
import { rejectsWith, startStreamWriterProcess, WRITER } from '@hs/replication/testing';
import { StreamWriter } from '@hs/storage';
import {
  createLocalPushRulesUpdater,
  getPushRulesForUser,
  registerPushRulesReplicationEndpoints,
  ReplicatedPushRulesUpdater,
  SPEC_DEFAULT_PUSH_RULES,
} from '../src/index.ts';
import { pushDatabase } from './support.ts';

const ALICE = '@alice:test';

const db = await pushDatabase();
const stream = await StreamWriter.open(db.sql, 'push_rules', WRITER, silentLogger);
const proc = await startStreamWriterProcess(db, stream, (server, notify) =>
  registerPushRulesReplicationEndpoints(server, createLocalPushRulesUpdater({ sql: db.sql, writer: stream, notify, log: silentLogger, defaults: SPEC_DEFAULT_PUSH_RULES })),
);
const { notified } = proc;
after(() => proc.close());

function replicated(secret?: string) {
  const recorder = proc.replicatedOptions(secret);
  return { recorder, rules: new ReplicatedPushRulesUpdater(recorder) };
}

async function rule(kind: string, ruleId: string) {
  return (await getPushRulesForUser(db.sql, ALICE)).find((r) => r.kind === kind && r.rule_id === ruleId);
}

test('each change lands on the writer, which notifies; the worker waits for the position', async () => {
  const { recorder, rules } = replicated();
  const before = notified.length;
  const conditions = [{ kind: 'event_match', key: 'content.body', pattern: 'cake*' }];
  const p1 = await rules.putRule(ALICE, { kind: 'override', rule_id: 'cake', actions: ['notify'], conditions }, {});
  const p2 = await rules.putRule(ALICE, { kind: 'content', rule_id: 'pie', actions: ['notify', { set_tweak: 'highlight' }], pattern: 'pie' }, {});
  const p3 = await rules.putRule(ALICE, { kind: 'override', rule_id: 'first', actions: [], conditions: [] }, { before: 'cake' });
  const p4 = await rules.setEnabled(ALICE, 'override', 'cake', false);
  const p5 = await rules.setActions(ALICE, 'content', 'pie', [{ set_tweak: 'sound', value: 'default' }]);
  const p6 = await rules.setEnabled(ALICE, 'override', '.m.rule.master', true);
  const p7 = await rules.deleteRule(ALICE, 'override', 'first');
  const positions = [p1, p2, p3, p4, p5, p6, p7];
  assert.deepEqual([...positions].sort((a, b) => a - b), positions);
  assert.equal(new Set(positions).size, positions.length);

  assert.deepEqual((await rule('override', 'cake'))?.conditions, conditions);
  assert.equal((await rule('override', 'cake'))?.enabled, false);
  assert.equal((await rule('content', 'pie'))?.pattern, 'pie');
  assert.deepEqual((await rule('content', 'pie'))?.actions, [{ set_tweak: 'sound', value: 'default' }]);
  assert.equal((await rule('override', '.m.rule.master'))?.enabled, true);
  assert.equal(await rule('override', 'first'), undefined);
  assert.deepEqual(
    notified.slice(before),
    positions.map((position) => ({ stream: 'push_rules', position, users: [ALICE] })),
  );
  assert.deepEqual(
    recorder.waits,
    positions.map((position) => ({ stream: 'push_rules', instance: WRITER, position })),
  );
});

test("the writer's 404s and 400s reach the caller unchanged, and nothing is awaited", async () => {
  const { recorder, rules } = replicated();
  const before = notified.length;
  await rejectsWith(rules.deleteRule(ALICE, 'room', '!nope:test'), 404, 'M_NOT_FOUND');
  await rejectsWith(rules.setEnabled(ALICE, 'sender', '@nobody:test', true), 404, 'M_NOT_FOUND');
  await rejectsWith(rules.setActions(ALICE, 'underride', 'missing', ['notify']), 404, 'M_NOT_FOUND');
  await rejectsWith(rules.deleteRule(ALICE, 'override', '.m.rule.master'), 400, 'M_INVALID_PARAM');
  await rejectsWith(rules.putRule(ALICE, { kind: 'room', rule_id: '!r:test', actions: [] }, { after: 'no-such-rule' }), 400, 'M_UNKNOWN');
  assert.equal(await rule('room', '!r:test'), undefined);
  assert.equal(notified.length, before);
  assert.deepEqual(recorder.waits, []);
});

test('malformed bodies are 400 M_BAD_JSON on the writer and write nothing', async () => {
  const client = proc.client();
  const before = notified.length;
  const good = { kind: 'room', rule_id: '!r:test', actions: ['notify'] };
  const bad: [string, JsonValue][] = [
    ['push_rules_put_rule', 'not an object'],
    ['push_rules_put_rule', { userId: ALICE, placement: {} }],
    ['push_rules_put_rule', { userId: ALICE, rule: good }],
    ['push_rules_put_rule', { userId: ALICE, rule: { ...good, kind: 'bogus' }, placement: {} }],
    ['push_rules_put_rule', { userId: ALICE, rule: { ...good, actions: 'notify' }, placement: {} }],
    ['push_rules_put_rule', { userId: ALICE, rule: { ...good, actions: [3] }, placement: {} }],
    ['push_rules_put_rule', { userId: ALICE, rule: { ...good, conditions: [{ key: 'x' }] }, placement: {} }],
    ['push_rules_put_rule', { userId: ALICE, rule: { ...good, rule_id: '' }, placement: {} }],
    ['push_rules_put_rule', { userId: ALICE, rule: good, placement: { before: 1 } }],
    ['push_rules_delete_rule', { userId: 42, kind: 'room', ruleId: 'x' }],
    ['push_rules_set_enabled', { userId: ALICE, kind: 'override', ruleId: '.m.rule.master', enabled: 'yes' }],
    ['push_rules_set_actions', { userId: ALICE, kind: 'override', ruleId: '.m.rule.master' }],
  ];
  for (const [name, body] of bad) await rejectsWith(client.call(WRITER, name, [], body), 400, 'M_BAD_JSON');
  assert.equal(notified.length, before);
  assert.equal(await rule('room', '!r:test'), undefined);
});

test('a wrong replication secret is refused with 401', async () => {
  const { recorder, rules } = replicated('wrong');
  await rejectsWith(rules.putRule(ALICE, { kind: 'room', rule_id: '!r:test', actions: [] }, {}), 401, 'M_UNAUTHORIZED');
  assert.equal(await rule('room', '!r:test'), undefined);
  assert.deepEqual(recorder.waits, []);
});

test('a retried call with the same transaction ID writes once', async () => {
  const client = proc.client();
  const before = notified.length;
  const body = { userId: ALICE, rule: { kind: 'sender', rule_id: '@bob:test', actions: ['notify'] }, placement: {} };
  const a = await client.call(WRITER, 'push_rules_put_rule', [], body, { txnId: 'retry-1' });
  const b = await client.call(WRITER, 'push_rules_put_rule', [], body, { txnId: 'retry-1' });
  assert.deepEqual(b, a);
  assert.equal(notified.length, before + 1);
  const [row] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM push_rules_stream WHERE user_id = ${ALICE} AND rule_id = '@bob:test'`;
  assert.equal(row?.n, 1);
});
