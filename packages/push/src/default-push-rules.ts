/**
 * The server-default push rules, as data, in the order the spec lists them (client-server API › Push
 * Notifications › Predefined Rules, v1.19). Rules that depend on the user name them with the spec's
 * own placeholders; the evaluator substitutes the recipient at match time and `formatPushRuleset`
 * substitutes them for clients, so one shared (and once-compiled) list serves every user.
 *
 * v1.17 removed the legacy mention rules that matched the plain-text body (`.m.rule.contains_display_name`,
 * `.m.rule.roomnotif`, `.m.rule.contains_user_name`). Synapse still ships them by default; they are
 * available here with `legacyMentions: true`, in the positions v1.16 gave them, and — as v1.7–v1.16
 * required — the evaluator skips them for events whose content has an `m.mentions` property.
 * The spec lists no poll or thread rules (those are MSCs), so none are included.
 */
import type { PushAction, PushCondition, PushRule } from './push-rule-types.ts';

/** Stands for the recipient's user ID in default rules (the spec's own wording). */
export const USER_ID_PLACEHOLDER = "[the user's Matrix ID]";
/** Stands for the recipient's localpart in default rules. */
export const LOCALPART_PLACEHOLDER = "[the local part of the user's Matrix ID]";

/** Always evaluated first, ahead of the user's own override rules. */
export const MASTER_RULE_ID = '.m.rule.master';

/** Legacy rules that must not apply when the event carries `m.mentions` (MSC3952). */
export const LEGACY_MENTION_RULE_IDS: ReadonlySet<string> = new Set([
  '.m.rule.contains_display_name',
  '.m.rule.roomnotif',
  '.m.rule.contains_user_name',
]);

const sound = (value: string): PushAction => ({ set_tweak: 'sound', value });
const highlight: PushAction = { set_tweak: 'highlight' };
const match = (key: string, pattern: string): PushCondition => ({ kind: 'event_match', key, pattern });

function override(rule_id: string, conditions: PushCondition[], actions: PushAction[], enabled = true): PushRule {
  return { kind: 'override', rule_id, default: true, enabled, conditions, actions };
}
function underride(rule_id: string, conditions: PushCondition[], actions: PushAction[]): PushRule {
  return { kind: 'underride', rule_id, default: true, enabled: true, conditions, actions };
}

const master = override(MASTER_RULE_ID, [], [], false);
const suppressNotices = override('.m.rule.suppress_notices', [match('content.msgtype', 'm.notice')], []);
const inviteForMe = override(
  '.m.rule.invite_for_me',
  [match('type', 'm.room.member'), match('content.membership', 'invite'), match('state_key', USER_ID_PLACEHOLDER)],
  ['notify', sound('default')],
);
const memberEvent = override('.m.rule.member_event', [match('type', 'm.room.member')], []);
const isUserMention = override(
  '.m.rule.is_user_mention',
  [{ kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: USER_ID_PLACEHOLDER }],
  ['notify', sound('default'), highlight],
);
const containsDisplayName = override('.m.rule.contains_display_name', [{ kind: 'contains_display_name' }], [
  'notify',
  sound('default'),
  highlight,
]);
const isRoomMention = override(
  '.m.rule.is_room_mention',
  [
    { kind: 'event_property_is', key: 'content.m\\.mentions.room', value: true },
    { kind: 'sender_notification_permission', key: 'room' },
  ],
  ['notify', highlight],
);
const roomNotif = override(
  '.m.rule.roomnotif',
  [match('content.body', '@room'), { kind: 'sender_notification_permission', key: 'room' }],
  ['notify', highlight],
);
const tombstone = override('.m.rule.tombstone', [match('type', 'm.room.tombstone'), match('state_key', '')], ['notify', highlight]);
const reaction = override('.m.rule.reaction', [match('type', 'm.reaction')], []);
const serverAcl = override('.m.rule.room.server_acl', [match('type', 'm.room.server_acl'), match('state_key', '')], []);
const suppressEdits = override(
  '.m.rule.suppress_edits',
  [{ kind: 'event_property_is', key: 'content.m\\.relates_to.rel_type', value: 'm.replace' }],
  [],
);
const containsUserName: PushRule = {
  kind: 'content',
  rule_id: '.m.rule.contains_user_name',
  default: true,
  enabled: true,
  pattern: LOCALPART_PLACEHOLDER,
  actions: ['notify', sound('default'), highlight],
};
const call = underride('.m.rule.call', [match('type', 'm.call.invite')], ['notify', sound('ring')]);
const encryptedOneToOne = underride(
  '.m.rule.encrypted_room_one_to_one',
  [{ kind: 'room_member_count', is: '2' }, match('type', 'm.room.encrypted')],
  ['notify', sound('default')],
);
const roomOneToOne = underride(
  '.m.rule.room_one_to_one',
  [{ kind: 'room_member_count', is: '2' }, match('type', 'm.room.message')],
  ['notify', sound('default')],
);
const message = underride('.m.rule.message', [match('type', 'm.room.message')], ['notify']);
const encrypted = underride('.m.rule.encrypted', [match('type', 'm.room.encrypted')], ['notify']);

function freezeDeep<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) freezeDeep(v);
    Object.freeze(value);
  }
  return value;
}

/** The spec's (v1.19) server-default rules in evaluation order. */
export const SPEC_DEFAULT_PUSH_RULES: readonly PushRule[] = freezeDeep([
  master,
  suppressNotices,
  inviteForMe,
  memberEvent,
  isUserMention,
  isRoomMention,
  tombstone,
  reaction,
  serverAcl,
  suppressEdits,
  call,
  encryptedOneToOne,
  roomOneToOne,
  message,
  encrypted,
]);

/** The same plus the legacy body-mention rules where v1.16 (and Synapse) put them. */
export const LEGACY_DEFAULT_PUSH_RULES: readonly PushRule[] = freezeDeep([
  master,
  suppressNotices,
  inviteForMe,
  memberEvent,
  isUserMention,
  containsDisplayName,
  isRoomMention,
  roomNotif,
  tombstone,
  reaction,
  serverAcl,
  suppressEdits,
  containsUserName,
  call,
  encryptedOneToOne,
  roomOneToOne,
  message,
  encrypted,
]);

export function serverDefaultPushRules(opts: { legacyMentions?: boolean } = {}): readonly PushRule[] {
  return opts.legacyMentions ? LEGACY_DEFAULT_PUSH_RULES : SPEC_DEFAULT_PUSH_RULES;
}
