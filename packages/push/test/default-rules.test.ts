/**
 * Every server-default rule, through the evaluator, as a recipient would meet it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  LEGACY_DEFAULT_PUSH_RULES,
  SPEC_DEFAULT_PUSH_RULES,
  evaluatePushRules,
  mergePushRules,
  type PushContext,
  type PushEvent,
  type PushRule,
} from '../src/index.ts';

const ALICE = '@alice:example.org';
const BOB = '@bob:example.org';

function ctx(over: Partial<PushContext> = {}): PushContext {
  return { userId: ALICE, displayName: 'Alice Liddell', roomMemberCount: 10, senderPowerLevel: 0, notificationPowerLevels: {}, ...over };
}
function ev(type: string, content: Record<string, unknown>, over: Record<string, unknown> = {}): PushEvent {
  return { type, sender: BOB, room_id: '!room:example.org', event_id: '$e', content, ...over };
}
const text = (body: string, extra: Record<string, unknown> = {}) => ev('m.room.message', { msgtype: 'm.text', body, ...extra });

function run(rules: readonly PushRule[], event: PushEvent, c: Partial<PushContext> = {}) {
  return evaluatePushRules(rules, event, ctx(c));
}
const spec = (event: PushEvent, c: Partial<PushContext> = {}) => run(SPEC_DEFAULT_PUSH_RULES, event, c);
const legacy = (event: PushEvent, c: Partial<PushContext> = {}) => run(LEGACY_DEFAULT_PUSH_RULES, event, c);

test('the spec default list, in the spec order', () => {
  assert.deepEqual(
    SPEC_DEFAULT_PUSH_RULES.map((r) => `${r.kind}/${r.rule_id}`),
    [
      'override/.m.rule.master',
      'override/.m.rule.suppress_notices',
      'override/.m.rule.invite_for_me',
      'override/.m.rule.member_event',
      'override/.m.rule.is_user_mention',
      'override/.m.rule.is_room_mention',
      'override/.m.rule.tombstone',
      'override/.m.rule.reaction',
      'override/.m.rule.room.server_acl',
      'override/.m.rule.suppress_edits',
      'underride/.m.rule.call',
      'underride/.m.rule.encrypted_room_one_to_one',
      'underride/.m.rule.room_one_to_one',
      'underride/.m.rule.message',
      'underride/.m.rule.encrypted',
    ],
  );
  assert.deepEqual(
    LEGACY_DEFAULT_PUSH_RULES.map((r) => r.rule_id).filter((id) => !SPEC_DEFAULT_PUSH_RULES.some((s) => s.rule_id === id)),
    ['.m.rule.contains_display_name', '.m.rule.roomnotif', '.m.rule.contains_user_name'],
  );
  for (const r of LEGACY_DEFAULT_PUSH_RULES) {
    assert.ok(r.rule_id.startsWith('.') && r.default, r.rule_id);
    assert.equal(r.enabled, r.rule_id !== '.m.rule.master');
    assert.ok(Object.isFrozen(r) && Object.isFrozen(r.actions), 'shared defaults are immutable');
  }
});

test('.m.rule.master is disabled by default and silences everything when enabled', () => {
  assert.equal(spec(text('hi')).notify, true);
  const muted = mergePushRules(SPEC_DEFAULT_PUSH_RULES, [], [{ kind: 'override', rule_id: '.m.rule.master', enabled: true }]);
  const r = run(muted, text('hi', { 'm.mentions': { user_ids: [ALICE] } }));
  assert.deepEqual(r, { notify: false, highlight: false, actions: [], ruleId: '.m.rule.master' });
});

test('.m.rule.suppress_notices: a notice does not notify, even in a 1:1 room', () => {
  const r = spec(ev('m.room.message', { msgtype: 'm.notice', body: 'bot says hi' }), { roomMemberCount: 2 });
  assert.equal(r.ruleId, '.m.rule.suppress_notices');
  assert.equal(r.notify, false);
});

test('.m.rule.invite_for_me: an invite for me notifies with sound; invites for others do not', () => {
  const invite = (target: string) => ev('m.room.member', { membership: 'invite' }, { state_key: target });
  const mine = spec(invite(ALICE));
  assert.equal(mine.ruleId, '.m.rule.invite_for_me');
  assert.equal(mine.notify, true);
  assert.equal(mine.highlight, false);
  assert.deepEqual(mine.actions, ['notify', { set_tweak: 'sound', value: 'default' }]);
  const theirs = spec(invite('@carol:example.org'));
  assert.equal(theirs.ruleId, '.m.rule.member_event');
  assert.equal(theirs.notify, false);
});

test('.m.rule.member_event: joins and leaves do not notify', () => {
  const r = spec(ev('m.room.member', { membership: 'join' }, { state_key: BOB }), { roomMemberCount: 2 });
  assert.equal(r.ruleId, '.m.rule.member_event');
  assert.equal(r.notify, false);
});

test('.m.rule.is_user_mention: m.mentions.user_ids naming me highlights', () => {
  const r = spec(text('hey you', { 'm.mentions': { user_ids: [BOB, ALICE] } }));
  assert.equal(r.ruleId, '.m.rule.is_user_mention');
  assert.deepEqual([r.notify, r.highlight], [true, true]);
  assert.deepEqual(r.actions, ['notify', { set_tweak: 'sound', value: 'default' }, { set_tweak: 'highlight' }]);
  assert.equal(spec(text('hey', { 'm.mentions': { user_ids: ['@ALICE:example.org'] } })).highlight, false, 'user IDs compare exactly');
  assert.equal(spec(text('hey', { 'm.mentions': { user_ids: ALICE } })).highlight, false, 'not an array');
  assert.equal(spec(text('hey', { 'm.mentions': { user_ids: [BOB] } })).ruleId, '.m.rule.message');
});

test('.m.rule.is_room_mention needs m.mentions.room and the notification power level', () => {
  const atRoom = text('everyone!', { 'm.mentions': { room: true } });
  assert.equal(spec(atRoom, { senderPowerLevel: 50 }).ruleId, '.m.rule.is_room_mention');
  assert.equal(spec(atRoom, { senderPowerLevel: 50 }).highlight, true);
  const weak = spec(atRoom, { senderPowerLevel: 49 });
  assert.equal(weak.ruleId, '.m.rule.message');
  assert.equal(weak.highlight, false);
  const lowered = { notifications: { room: 10 } };
  assert.equal(spec(atRoom, { senderPowerLevel: 10, notificationPowerLevels: lowered }).highlight, true);
  assert.equal(spec(atRoom, { senderPowerLevel: 9, notificationPowerLevels: lowered }).highlight, false);
  assert.equal(spec(text('x', { 'm.mentions': { room: 'true' } }), { senderPowerLevel: 100 }).highlight, false, 'must be boolean true');
});

test('.m.rule.tombstone: a room upgrade highlights; a non-state tombstone does not', () => {
  const r = spec(ev('m.room.tombstone', { body: 'moved', replacement_room: '!new:example.org' }, { state_key: '' }));
  assert.equal(r.ruleId, '.m.rule.tombstone');
  assert.deepEqual([r.notify, r.highlight], [true, true]);
  assert.equal(spec(ev('m.room.tombstone', { body: 'moved' })).ruleId, null);
});

test('.m.rule.reaction: reactions do not notify, even in 1:1 rooms', () => {
  const r = spec(ev('m.reaction', { 'm.relates_to': { rel_type: 'm.annotation', event_id: '$x', key: '👍' } }), { roomMemberCount: 2 });
  assert.equal(r.ruleId, '.m.rule.reaction');
  assert.equal(r.notify, false);
});

test('.m.rule.room.server_acl: ACL changes do not notify', () => {
  const r = spec(ev('m.room.server_acl', { allow: ['*'] }, { state_key: '' }));
  assert.equal(r.ruleId, '.m.rule.room.server_acl');
  assert.equal(r.notify, false);
});

test('.m.rule.suppress_edits: edits do not notify; an edit that newly mentions me still highlights', () => {
  const edit = (extra: Record<string, unknown>) =>
    text('* fixed', { 'm.new_content': { msgtype: 'm.text', body: 'fixed' }, 'm.relates_to': { rel_type: 'm.replace', event_id: '$orig' }, ...extra });
  const r = spec(edit({}), { roomMemberCount: 2 });
  assert.equal(r.ruleId, '.m.rule.suppress_edits');
  assert.equal(r.notify, false);
  assert.equal(spec(edit({ 'm.mentions': { user_ids: [ALICE] } })).ruleId, '.m.rule.is_user_mention');
  // A reply is not an edit.
  assert.equal(spec(text('re', { 'm.relates_to': { 'm.in_reply_to': { event_id: '$x' } } })).ruleId, '.m.rule.message');
});

test('.m.rule.call rings', () => {
  const r = spec(ev('m.call.invite', { call_id: 'c', lifetime: 60000, offer: {}, version: 1 }));
  assert.equal(r.ruleId, '.m.rule.call');
  assert.deepEqual(r.actions, ['notify', { set_tweak: 'sound', value: 'ring' }]);
});

test('one-to-one rooms: member count 2 picks the one-to-one rules (with sound)', () => {
  const plain = spec(text('hi'), { roomMemberCount: 2 });
  assert.equal(plain.ruleId, '.m.rule.room_one_to_one');
  assert.deepEqual(plain.actions, ['notify', { set_tweak: 'sound', value: 'default' }]);
  const enc = ev('m.room.encrypted', { algorithm: 'm.megolm.v1.aes-sha2', ciphertext: 'AAA' });
  const e1 = spec(enc, { roomMemberCount: 2 });
  assert.equal(e1.ruleId, '.m.rule.encrypted_room_one_to_one');
  assert.deepEqual([e1.notify, e1.highlight], [true, false]);
  assert.deepEqual(e1.actions, ['notify', { set_tweak: 'sound', value: 'default' }]);
  for (const n of [1, 3, 200]) {
    assert.equal(spec(text('hi'), { roomMemberCount: n }).ruleId, '.m.rule.message', `count ${n}`);
    assert.equal(spec(enc, { roomMemberCount: n }).ruleId, '.m.rule.encrypted', `count ${n}`);
  }
});

test('.m.rule.message and .m.rule.encrypted notify without sound or highlight', () => {
  const m = spec(text('hello'));
  assert.deepEqual(m, { notify: true, highlight: false, actions: ['notify'], ruleId: '.m.rule.message' });
  const e = spec(ev('m.room.encrypted', { algorithm: 'm.megolm.v1.aes-sha2' }));
  assert.deepEqual(e, { notify: true, highlight: false, actions: ['notify'], ruleId: '.m.rule.encrypted' });
});

test('events no rule matches do not notify', () => {
  assert.deepEqual(spec(ev('m.room.topic', { topic: 'Alice' }, { state_key: '' })), { notify: false, highlight: false, actions: [], ruleId: null });
  assert.equal(spec(ev('m.sticker', { body: 'Alice Liddell' })).notify, false);
});

test('my own events never notify me', () => {
  assert.equal(spec(text('hi', { 'm.mentions': { user_ids: [ALICE] } }, ), { userId: BOB }).notify, false);
  assert.equal(spec({ ...text('note to self'), sender: ALICE }, { roomMemberCount: 2 }).notify, false);
});

test('spec defaults: display names and localparts in the body are not mentions (removed in v1.17)', () => {
  const r = spec(text('Alice Liddell, alice, @room'), { senderPowerLevel: 100 });
  assert.deepEqual([r.ruleId, r.highlight], ['.m.rule.message', false]);
});

test('legacy: a message with my display name highlights (.m.rule.contains_display_name)', () => {
  const r = legacy(text('hello Alice Liddell!'));
  assert.equal(r.ruleId, '.m.rule.contains_display_name');
  assert.deepEqual([r.notify, r.highlight], [true, true]);
  assert.deepEqual(r.actions, ['notify', { set_tweak: 'sound', value: 'default' }, { set_tweak: 'highlight' }]);
  assert.equal(legacy(text('ALICE LIDDELL')).ruleId, '.m.rule.contains_display_name', 'case-insensitive');
  // (Bob's localpart is not "alice" here, so .m.rule.contains_user_name cannot step in.)
  const asBob = { userId: '@bob2:example.org' };
  assert.equal(legacy(text('Alice Liddell!'), asBob).ruleId, '.m.rule.contains_display_name');
  assert.equal(legacy(text('Alice Liddells'), asBob).highlight, false, 'word boundary');
  assert.equal(legacy(text('hello Alice Liddell'), { ...asBob, displayName: null }).highlight, false);
  assert.equal(legacy(text('hello'), { ...asBob, displayName: '' }).highlight, false);
  assert.equal(legacy(text('hello [a-z]+ there'), { ...asBob, displayName: '[a-z]+' }).highlight, true, 'names are literal text');
  assert.equal(legacy(text('hello abc there'), { ...asBob, displayName: '[a-z]+' }).highlight, false);
});

test('legacy: my localpart in the body highlights (.m.rule.contains_user_name)', () => {
  const r = legacy(text('ping alice'), { displayName: 'Someone Else' });
  assert.equal(r.ruleId, '.m.rule.contains_user_name');
  assert.equal(r.highlight, true);
  assert.equal(legacy(text('ping malice'), { displayName: 'Someone Else' }).highlight, false);
  assert.equal(legacy(text('ping carol'), { userId: '@carol:example.org', displayName: null }).ruleId, '.m.rule.contains_user_name');
});

test('legacy: @room in the body needs notification power (.m.rule.roomnotif)', () => {
  assert.equal(legacy(text('@room lunch'), { senderPowerLevel: 50 }).ruleId, '.m.rule.roomnotif');
  assert.equal(legacy(text('@room lunch'), { senderPowerLevel: 0 }).ruleId, '.m.rule.message');
  assert.equal(legacy(text('@roomy lunch'), { senderPowerLevel: 50 }).ruleId, '.m.rule.message');
});

test('legacy: m.mentions (even empty) turns the body-mention rules off', () => {
  for (const mentions of [{}, { user_ids: [] }, { user_ids: [BOB] }]) {
    const r = legacy(text('Alice Liddell alice @room', { 'm.mentions': mentions }), { senderPowerLevel: 100 });
    assert.deepEqual([r.ruleId, r.highlight], ['.m.rule.message', false], JSON.stringify(mentions));
  }
  // …while intentional mentions still work.
  assert.equal(legacy(text('x', { 'm.mentions': { user_ids: [ALICE] } })).ruleId, '.m.rule.is_user_mention');
  assert.equal(legacy(text('x', { 'm.mentions': { room: true } }), { senderPowerLevel: 50 }).ruleId, '.m.rule.is_room_mention');
});

test('legacy: a notice naming me still does not notify (suppress_notices comes first)', () => {
  assert.equal(legacy(ev('m.room.message', { msgtype: 'm.notice', body: 'Alice Liddell' })).notify, false);
});
