/**
 * The evaluator, condition by condition, and the rule machinery around it (kinds, order, enabled,
 * actions), with user-made rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SPEC_DEFAULT_PUSH_RULES,
  evaluatePushRules,
  formatPushRuleset,
  mergePushRules,
  type PushCondition,
  type PushContext,
  type PushEvent,
  type PushRule,
} from '../src/index.ts';

const ALICE = '@alice:example.org';
const BOB = '@bob:example.org';

function ctx(over: Partial<PushContext> = {}): PushContext {
  return { userId: ALICE, displayName: 'Alice', roomMemberCount: 5, senderPowerLevel: 0, notificationPowerLevels: {}, ...over };
}
const baseEvent: PushEvent = {
  type: 'm.room.message',
  sender: BOB,
  room_id: '!room:example.org',
  content: {
    msgtype: 'm.text',
    body: 'It is time for tea',
    topic: 'Lunch plans',
    count: 3,
    flag: true,
    nothing: null,
    'm.federate': false,
    nested: { 'dotted.key': 'deep', 'back\\slash': 'bs' },
    tags: ['#a:example.org', 7, true, null, { x: 1 }],
  },
};

let n = 0;
function rule(conditions: PushCondition[], actions: PushRule['actions'] = ['notify']): PushRule {
  return { kind: 'override', rule_id: `r${n++}`, default: false, enabled: true, conditions, actions };
}
/** Whether a rule with exactly these conditions matches. */
function holds(conditions: PushCondition[], event: PushEvent = baseEvent, c: Partial<PushContext> = {}): boolean {
  return evaluatePushRules([rule(conditions)], event, ctx(c)).notify;
}

test('event_match: globs on whole values, case-insensitively', () => {
  const cases: [string, string, boolean][] = [
    ['type', 'm.room.message', true],
    ['type', 'M.ROOM.*', true],
    ['type', 'm.room', false],
    ['content.topic', 'lunc?*', true],
    ['content.topic', 'lunch', false],
    ['sender', '@bob:*', true],
    ['room_id', '!room:example.org', true],
    ['content.nested.dotted\\.key', 'deep', true],
    ['content.nested.back\\\\slash', 'BS', true],
    ['content.nested.dotted.key', '*', false],
  ];
  for (const [key, pattern, expected] of cases) assert.equal(holds([{ kind: 'event_match', key, pattern }]), expected, `${key} ~ ${pattern}`);
});

test('event_match: content.body matches words, not whole values', () => {
  const m = (pattern: string) => holds([{ kind: 'event_match', key: 'content.body', pattern }]);
  assert.equal(m('tea'), true);
  assert.equal(m('TIME'), true);
  assert.equal(m('ime'), false);
  assert.equal(m('time*tea'), true);
  assert.equal(m('it is time for tea'), true);
});

test('event_match: absent or non-string values never match, even with *', () => {
  for (const key of ['content.missing', 'content.count', 'content.flag', 'content.nothing', 'content.tags', 'content.nested', 'state_key']) {
    assert.equal(holds([{ kind: 'event_match', key, pattern: '*' }]), false, key);
  }
});

test('event_property_is: exact, typed comparison', () => {
  const is = (key: string, value: PushCondition['value']) => holds([{ kind: 'event_property_is', key, value }]);
  assert.equal(is('content.flag', true), true);
  assert.equal(is('content.flag', 'true'), false);
  assert.equal(is('content.count', 3), true);
  assert.equal(is('content.count', '3'), false);
  assert.equal(is('content.m\\.federate', false), true);
  assert.equal(is('content.m\\.federate', 0), false, 'no casting');
  assert.equal(is('content.nothing', null), true);
  assert.equal(is('content.missing', null), false, 'absent is not null');
  assert.equal(is('content.topic', 'Lunch plans'), true);
  assert.equal(is('content.topic', 'lunch plans'), false, 'case-sensitive');
  assert.equal(is('content.count', 3.5), false, 'non-integers are not canonical JSON');
  assert.equal(is('content.nested', { 'dotted.key': 'deep' } as never), false, 'compound values never match');
});

test('event_property_contains: exact membership of an array', () => {
  const has = (key: string, value: PushCondition['value']) => holds([{ kind: 'event_property_contains', key, value }]);
  assert.equal(has('content.tags', '#a:example.org'), true);
  assert.equal(has('content.tags', ':example.org'), false, 'no partial values');
  assert.equal(has('content.tags', 7), true);
  assert.equal(has('content.tags', '7'), false);
  assert.equal(has('content.tags', true), true);
  assert.equal(has('content.tags', null), true);
  assert.equal(has('content.tags', false), false);
  assert.equal(has('content.topic', 'Lunch plans'), false, 'not an array');
  assert.equal(has('content.missing', 'x'), false);
});

test('contains_display_name: the recipient name as a word of the body', () => {
  const c = [{ kind: 'contains_display_name' }];
  const body = (b: string) => ({ ...baseEvent, content: { body: b } });
  assert.equal(holds(c, body('hi alice!')), true);
  assert.equal(holds(c, body('malice')), false);
  assert.equal(holds(c, body('hi alice'), { displayName: null }), false);
  assert.equal(holds(c, body('hi alice'), { displayName: '   ' }), false);
  assert.equal(holds(c, { ...baseEvent, content: { body: 42 } }), false);
  assert.equal(holds(c, body('Здравствуй, ВАСЯ!'), { displayName: 'Вася' }), true, 'unicode case-insensitive');
});

test('room_member_count: every operator', () => {
  const table: [string, number, boolean][] = [
    ['2', 2, true],
    ['2', 3, false],
    ['==2', 2, true],
    ['==2', 1, false],
    ['<2', 1, true],
    ['<2', 2, false],
    ['>2', 3, true],
    ['>2', 2, false],
    ['<=2', 2, true],
    ['<=2', 3, false],
    ['>=2', 2, true],
    ['>=2', 1, false],
    ['>=10', 200, true],
  ];
  for (const [is, count, expected] of table) {
    assert.equal(holds([{ kind: 'room_member_count', is }], baseEvent, { roomMemberCount: count }), expected, `${is} with ${count}`);
  }
  for (const bad of ['', '=2', '!=2', ' 2', '2.0', 'two', '<>2', '-1']) {
    assert.equal(holds([{ kind: 'room_member_count', is: bad }], baseEvent, { roomMemberCount: 2 }), false, `invalid ${JSON.stringify(bad)}`);
  }
  assert.equal(holds([{ kind: 'room_member_count' }], baseEvent, { roomMemberCount: 2 }), false, 'missing is');
});

test('sender_notification_permission: the notifications map, with room defaulting to 50', () => {
  const room = [{ kind: 'sender_notification_permission', key: 'room' }];
  assert.equal(holds(room, baseEvent, { senderPowerLevel: 50 }), true);
  assert.equal(holds(room, baseEvent, { senderPowerLevel: 49 }), false);
  assert.equal(holds(room, baseEvent, { senderPowerLevel: 50, notificationPowerLevels: null }), true, 'no power levels event');
  assert.equal(holds(room, baseEvent, { senderPowerLevel: 75, notificationPowerLevels: { notifications: { room: 80 } } }), false);
  assert.equal(holds(room, baseEvent, { senderPowerLevel: 75, notificationPowerLevels: { notifications: { room: '70' } } }), true, 'string levels (old rooms)');
  assert.equal(holds(room, baseEvent, { senderPowerLevel: 49, notificationPowerLevels: { notifications: { room: 'junk' } } }), false, 'junk falls back to 50');
  const custom = [{ kind: 'sender_notification_permission', key: 'custom' }];
  assert.equal(holds(custom, baseEvent, { senderPowerLevel: 100 }), false, 'an unknown key with no level never matches');
  assert.equal(holds(custom, baseEvent, { senderPowerLevel: 5, notificationPowerLevels: { notifications: { custom: 5 } } }), true);
  assert.equal(holds([{ kind: 'sender_notification_permission' }], baseEvent, { senderPowerLevel: 100 }), false, 'missing key');
});

test('unknown or malformed conditions disable the rule', () => {
  assert.equal(holds([]), true, 'no conditions: always matches');
  assert.equal(holds([{ kind: 'related_event_match', key: 'sender', pattern: '*' }]), false);
  assert.equal(holds([{ kind: 'event_match', key: 'type', pattern: '*' }, { kind: 'nope' }]), false);
  assert.equal(holds([{ kind: 'event_match', key: 'type' }]), false, 'event_match without pattern');
  assert.equal(holds([{ kind: 'event_match', pattern: '*' }]), false, 'event_match without key');
  assert.equal(holds([{ kind: 'event_property_is', key: 'content.flag' }]), false, 'without value');
  assert.equal(holds([{ kind: 'event_match', key: 5, pattern: '*' } as never]), false);
});

test('kinds are checked override → content → room → sender → underride, first match wins', () => {
  const r = (kind: PushRule['kind'], rule_id: string, extra: Partial<PushRule> = {}): PushRule => ({
    kind,
    rule_id,
    default: false,
    enabled: true,
    actions: ['notify', { set_tweak: 'sound', value: rule_id }],
    ...extra,
  });
  const user = [
    r('override', 'o', { conditions: [{ kind: 'event_match', key: 'content.body', pattern: 'override' }] }),
    r('content', 'c', { pattern: 'tea' }),
    r('room', '!room:example.org'),
    r('sender', BOB),
    r('underride', 'u', { conditions: [] }),
  ];
  const rules = mergePushRules([], user, []);
  const pick = (event: PushEvent) => evaluatePushRules(rules, event, ctx()).ruleId;
  assert.equal(pick({ ...baseEvent, content: { body: 'override tea' } }), 'o');
  assert.equal(pick({ ...baseEvent, content: { body: 'tea time' } }), 'c');
  assert.equal(pick({ ...baseEvent, content: { body: 'coffee' } }), '!room:example.org');
  assert.equal(pick({ ...baseEvent, room_id: '!other:example.org', content: {} }), BOB);
  assert.equal(pick({ ...baseEvent, room_id: '!other:example.org', sender: '@carol:example.org', content: {} }), 'u');
  assert.equal(pick({ ...baseEvent, room_id: '!ROOM:example.org', sender: '@Bob:example.org', content: {} }), 'u', 'room and sender IDs compare exactly');
});

test('user rules sit between master and the default overrides, and ahead of default underrides', () => {
  const mute: PushRule = { kind: 'room', rule_id: '!room:example.org', default: false, enabled: true, actions: [] };
  const keyword: PushRule = { kind: 'override', rule_id: 'kw', default: false, enabled: true, conditions: [{ kind: 'event_match', key: 'content.body', pattern: 'tea' }], actions: ['notify', { set_tweak: 'highlight' }] };
  const rules = mergePushRules(SPEC_DEFAULT_PUSH_RULES, [keyword, mute], []);
  assert.deepEqual(rules.slice(0, 3).map((r) => r.rule_id), ['.m.rule.master', 'kw', '.m.rule.suppress_notices']);
  const tea = evaluatePushRules(rules, baseEvent, ctx());
  assert.equal(tea.ruleId, 'kw');
  assert.equal(tea.highlight, true);
  const muted = evaluatePushRules(rules, { ...baseEvent, content: { msgtype: 'm.text', body: 'coffee' } }, ctx());
  assert.deepEqual([muted.ruleId, muted.notify], ['!room:example.org', false], 'a room rule beats .m.rule.message');
  const mention = evaluatePushRules(rules, { ...baseEvent, content: { body: 'coffee', 'm.mentions': { user_ids: [ALICE] } } }, ctx());
  assert.equal(mention.ruleId, '.m.rule.is_user_mention', 'default overrides beat a room rule');
});

test('disabled rules are skipped; default rules can be disabled or given new actions', () => {
  const off: PushRule = { ...rule([]), enabled: false };
  assert.equal(evaluatePushRules([off], baseEvent, ctx()).ruleId, null);
  const rules = mergePushRules(SPEC_DEFAULT_PUSH_RULES, [], [
    { kind: 'underride', rule_id: '.m.rule.message', enabled: false },
    { kind: 'underride', rule_id: '.m.rule.encrypted', actions: ['notify', { set_tweak: 'highlight', value: true }] },
  ]);
  assert.equal(evaluatePushRules(rules, baseEvent, ctx()).ruleId, null);
  const enc = evaluatePushRules(rules, { ...baseEvent, type: 'm.room.encrypted' }, ctx());
  assert.deepEqual([enc.ruleId, enc.highlight], ['.m.rule.encrypted', true]);
  assert.equal(mergePushRules(SPEC_DEFAULT_PUSH_RULES, [], []), SPEC_DEFAULT_PUSH_RULES, 'no changes: the shared list itself');
});

test('actions: dont_notify and coalesce are ignored; highlight follows its value', () => {
  const act = (actions: PushRule['actions']) => evaluatePushRules([rule([], actions)], baseEvent, ctx());
  const silent = act(['dont_notify']);
  assert.deepEqual([silent.notify, silent.highlight, silent.actions], [false, false, []]);
  assert.notEqual(silent.ruleId, null, 'the rule still matched (and so stops evaluation)');
  assert.deepEqual(act(['notify', 'coalesce']).actions, ['notify']);
  assert.equal(act(['notify', { set_tweak: 'highlight', value: false }]).highlight, false);
  assert.equal(act([{ set_tweak: 'highlight' }]).highlight, true);
  assert.equal(act([{ set_tweak: 'highlight' }]).notify, false, 'highlight without notify');
  assert.deepEqual(act(['notify', { set_tweak: 'custom', value: { a: 1 } }]).actions, ['notify', { set_tweak: 'custom', value: { a: 1 } }]);
});

test('compiled lists are cached per array; results are shared, not rebuilt', () => {
  const a = evaluatePushRules(SPEC_DEFAULT_PUSH_RULES, baseEvent, ctx());
  const b = evaluatePushRules(SPEC_DEFAULT_PUSH_RULES, baseEvent, ctx({ userId: '@zed:example.org' }));
  assert.equal(a, b);
  assert.ok(Object.isFrozen(a));
});

test('formatPushRuleset substitutes the user into default rules, and leaves user rules alone', () => {
  const own: PushRule = { kind: 'content', rule_id: 'cake', default: false, enabled: true, pattern: "[the user's Matrix ID]", actions: ['notify'] };
  const set = formatPushRuleset(mergePushRules(SPEC_DEFAULT_PUSH_RULES, [own], []), ALICE);
  const invite = set.override.find((r) => r.rule_id === '.m.rule.invite_for_me');
  assert.deepEqual((invite?.conditions as PushCondition[])[2], { kind: 'event_match', key: 'state_key', pattern: ALICE });
  const mention = set.override.find((r) => r.rule_id === '.m.rule.is_user_mention');
  assert.deepEqual(mention?.conditions, [{ kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: ALICE }]);
  assert.deepEqual(set.content, [{ rule_id: 'cake', default: false, enabled: true, actions: ['notify'], pattern: "[the user's Matrix ID]" }]);
  assert.deepEqual(Object.keys(set), ['override', 'content', 'room', 'sender', 'underride']);
  // And a user rule with the placeholder text is matched literally, not as the user.
  const ev = { ...baseEvent, content: { body: 'hi @alice:example.org' } };
  assert.equal(evaluatePushRules([own], ev, ctx()).ruleId, null);
});
