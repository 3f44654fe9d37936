/**
 * Push rule evaluation throughput for one 200-member room: every event is evaluated for its 199
 * other members, each with the default rules and a quarter of them with a few rules of their own.
 *   node packages/push/bench/push-rules.bench.ts
 */
import {
  LEGACY_DEFAULT_PUSH_RULES,
  SPEC_DEFAULT_PUSH_RULES,
  evaluatePushRules,
  mergePushRules,
  type PushContext,
  type PushEvent,
  type PushRule,
} from '../src/index.ts';

const MEMBERS = 200;
const ROOM = '!bench:example.org';
const users = Array.from({ length: MEMBERS }, (_, i) => `@user${i}:example.org`);
const sender = users[0] as string;
const recipients = users.slice(1);

/** Every fourth user has a keyword, a glob override, a muted room and a sender rule. */
function ownRules(i: number): PushRule[] {
  if (i % 4 !== 0) return [];
  return [
    { kind: 'override', rule_id: 'deploys', default: false, enabled: true, conditions: [{ kind: 'event_match', key: 'content.body', pattern: 'deploy*prod' }], actions: ['notify', { set_tweak: 'highlight' }] },
    { kind: 'content', rule_id: 'lunch', default: false, enabled: true, pattern: 'lunch', actions: ['notify', { set_tweak: 'sound', value: 'default' }] },
    { kind: 'room', rule_id: '!muted:example.org', default: false, enabled: true, actions: [] },
    { kind: 'sender', rule_id: '@bot:example.org', default: false, enabled: true, actions: [] },
  ];
}
const stored = recipients.map((_, i) => ownRules(i + 1));

const filler = 'The quick brown fox jumps over the lazy dog while the team discusses release notes. ';
const events: PushEvent[] = [
  { type: 'm.room.message', sender, room_id: ROOM, content: { msgtype: 'm.text', body: `${filler.repeat(4)}anyone up for lunch?`, 'm.mentions': {} } },
  { type: 'm.room.message', sender, room_id: ROOM, content: { msgtype: 'm.text', body: 'hey user17 look', 'm.mentions': { user_ids: ['@user17:example.org'] } } },
  { type: 'm.room.message', sender, room_id: ROOM, content: { msgtype: 'm.text', body: `${filler.repeat(8)}` } },
  { type: 'm.room.encrypted', sender, room_id: ROOM, content: { algorithm: 'm.megolm.v1.aes-sha2', ciphertext: 'A'.repeat(400), device_id: 'D', session_id: 'S' } },
  { type: 'm.reaction', sender, room_id: ROOM, content: { 'm.relates_to': { rel_type: 'm.annotation', event_id: '$x', key: '👍' } } },
  { type: 'm.room.message', sender, room_id: ROOM, content: { msgtype: 'm.text', body: '* typo', 'm.new_content': { body: 'typo' }, 'm.relates_to': { rel_type: 'm.replace', event_id: '$x' } } },
  { type: 'm.room.member', sender, room_id: ROOM, state_key: sender, content: { membership: 'join', displayname: 'User Zero' } },
  { type: 'm.room.message', sender, room_id: ROOM, content: { msgtype: 'm.notice', body: 'build finished' } },
];

const contexts: PushContext[] = recipients.map((userId, i) => ({
  userId,
  displayName: `User ${i + 1}`,
  roomMemberCount: MEMBERS,
  senderPowerLevel: 100,
  notificationPowerLevels: { notifications: { room: 50 } },
}));

function measure(label: string, seconds: number, round: () => number): void {
  // Warm up (JIT, caches), then count evaluations for a fixed time.
  const warmUntil = performance.now() + 300;
  while (performance.now() < warmUntil) round();
  let evaluations = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  while (performance.now() < until) evaluations += round();
  const elapsed = (performance.now() - started) / 1000;
  const perSec = evaluations / elapsed;
  console.log(
    `${label.padEnd(58)} ${Math.round(perSec).toLocaleString('en-US').padStart(12)} evaluations/s   ` +
      `${((1e9 / perSec) | 0).toString().padStart(5)} ns each   ${Math.round(perSec / recipients.length).toLocaleString('en-US')} events/s`,
  );
}

let sink = 0;
function roundWith(lists: readonly (readonly PushRule[])[]): () => number {
  return () => {
    for (const event of events) {
      for (let i = 0; i < recipients.length; i++) if (evaluatePushRules(lists[i] as readonly PushRule[], event, contexts[i] as PushContext).notify) sink++;
    }
    return events.length * recipients.length;
  };
}

console.log(`push rules: ${MEMBERS}-member room, ${recipients.length} recipients per event, ${events.length} event shapes, 1 in 4 users with 4 own rules`);

const specLists = stored.map((own) => mergePushRules(SPEC_DEFAULT_PUSH_RULES, own, []));
measure('spec defaults, rule lists reused (cached per user)', 2, roundWith(specLists));

const legacyLists = stored.map((own) => mergePushRules(LEGACY_DEFAULT_PUSH_RULES, own, []));
measure('legacy defaults (+body mentions), rule lists reused', 2, roundWith(legacyLists));

// As if every event re-read every member's rules from the database: fresh objects, compiled anew.
measure('spec defaults, fresh rule lists per event (no cache)', 2, () => {
  const fresh = stored.map((own) => mergePushRules(SPEC_DEFAULT_PUSH_RULES, structuredClone(own), []));
  return roundWith(fresh)();
});

if (sink < 0) console.log(sink);
