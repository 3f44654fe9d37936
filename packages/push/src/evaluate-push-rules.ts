/**
 * The push rule evaluator: the first enabled rule (in evaluation order) whose conditions all hold
 * decides the actions. It runs for every local recipient of every event, so everything that can be
 * prepared ahead is: a rule list is compiled once (cached by array identity), each rule and condition
 * once (cached by object identity, so the shared server-default rules compile once per process), globs
 * once per pattern. Evaluating allocates nothing: the result for each rule is precomputed and shared.
 */
import { LEGACY_MENTION_RULE_IDS, LOCALPART_PLACEHOLDER, USER_ID_PLACEHOLDER } from './default-push-rules.ts';
import { globMatcher, wordLiteralMatcher, type GlobMatcher } from './glob.ts';
import { parsePropertyPath, propertyGetter } from './property-path.ts';
import type { PushAction, PushCondition, PushRule, PushRuleKind } from './push-rule-types.ts';

/** The event being pushed, as stored (client format or PDU: only its properties are read). */
export interface PushEvent {
  readonly type?: unknown;
  readonly sender?: unknown;
  readonly room_id?: unknown;
  readonly content?: unknown;
  readonly [key: string]: unknown;
}

/** What the evaluator needs to know about the recipient and the room at this event. */
export interface PushContext {
  /** The recipient. */
  readonly userId: string;
  /** The recipient's display name in the room (for the deprecated `contains_display_name`). */
  readonly displayName?: string | null;
  /** Joined members of the room. */
  readonly roomMemberCount: number;
  /** The sender's power level in the room. */
  readonly senderPowerLevel: number;
  /** The room's `m.room.power_levels` content (its `notifications` map is read); absent if the room has none. */
  readonly notificationPowerLevels?: Readonly<Record<string, unknown>> | null;
}

export interface PushEvaluation {
  readonly notify: boolean;
  readonly highlight: boolean;
  /** The matching rule's actions (historical `dont_notify` / `coalesce` removed); empty if none matched. */
  readonly actions: readonly PushAction[];
  /** The matching rule, or null. */
  readonly ruleId: string | null;
}

type Test = (event: PushEvent, ctx: PushContext) => boolean;

interface RuleMatcher {
  /** Null: the rule can never match (an unknown or malformed condition). */
  readonly test: Test | null;
  /**
   * A literal `type` the event must have (from an `event_match` on `type` without wildcards), checked
   * inline before `test` — most rules are about one event type, so most are skipped without a call.
   */
  readonly type: string | null;
  readonly typeMatcher: GlobMatcher | null;
}

interface CompiledRule extends RuleMatcher {
  readonly ruleId: string;
  readonly enabled: boolean;
  readonly legacyMention: boolean;
  readonly result: PushEvaluation;
}

const NO_MATCH: PushEvaluation = Object.freeze({ notify: false, highlight: false, actions: Object.freeze([]), ruleId: null });
const always: Test = () => true;

// ---- conditions -------------------------------------------------------------------------------

/** Integers in canonical JSON's range, strings, booleans and null: the values `event_property_*` compare. */
function isCanonicalPrimitive(v: unknown): boolean {
  return typeof v === 'string' || typeof v === 'boolean' || v === null || (typeof v === 'number' && Number.isSafeInteger(v));
}

function eventMatch(cond: PushCondition, isDefault: boolean): Test | null {
  const { key, pattern } = cond;
  if (typeof key !== 'string' || typeof pattern !== 'string') return null;
  const get = propertyGetter(parsePropertyPath(key));
  const mode = key === 'content.body' ? 'word' : 'whole';
  if (isDefault && pattern === USER_ID_PLACEHOLDER) {
    return (event, ctx) => {
      const v = get(event);
      return typeof v === 'string' && globMatcher(ctx.userId, mode).test(v);
    };
  }
  const matcher = globMatcher(pattern, mode);
  return (event) => {
    const v = get(event);
    return typeof v === 'string' && matcher.test(v);
  };
}

function eventPropertyIs(cond: PushCondition, isDefault: boolean): Test | null {
  const { key, value } = cond;
  if (typeof key !== 'string' || !isCanonicalPrimitive(value)) return null;
  const get = propertyGetter(parsePropertyPath(key));
  if (isDefault && value === USER_ID_PLACEHOLDER) return (event, ctx) => get(event) === ctx.userId;
  return (event) => get(event) === value;
}

function eventPropertyContains(cond: PushCondition, isDefault: boolean): Test | null {
  const { key, value } = cond;
  if (typeof key !== 'string' || !isCanonicalPrimitive(value)) return null;
  const get = propertyGetter(parsePropertyPath(key));
  if (isDefault && value === USER_ID_PLACEHOLDER) {
    return (event, ctx) => {
      const v = get(event);
      return Array.isArray(v) && v.includes(ctx.userId);
    };
  }
  return (event) => {
    const v = get(event);
    return Array.isArray(v) && v.includes(value);
  };
}

const getBody = propertyGetter(['content', 'body']);

const containsDisplayName: Test = (event, ctx) => {
  const name = ctx.displayName;
  if (typeof name !== 'string' || name.trim() === '') return false;
  const body = getBody(event);
  return typeof body === 'string' && wordLiteralMatcher(name).test(body);
};

const MEMBER_COUNT = /^(==|<=|>=|<|>)?([0-9]+)$/;

function roomMemberCount(cond: PushCondition): Test | null {
  const m = typeof cond.is === 'string' ? MEMBER_COUNT.exec(cond.is) : null;
  if (!m) return null;
  const n = Number(m[2]);
  switch (m[1]) {
    case '<':
      return (_e, ctx) => ctx.roomMemberCount < n;
    case '>':
      return (_e, ctx) => ctx.roomMemberCount > n;
    case '<=':
      return (_e, ctx) => ctx.roomMemberCount <= n;
    case '>=':
      return (_e, ctx) => ctx.roomMemberCount >= n;
    default:
      return (_e, ctx) => ctx.roomMemberCount === n;
  }
}

/** A power level as room versions before 10 allowed it: an integer or an integer in a string. */
function powerLevelValue(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) ? v : undefined;
  if (typeof v === 'string' && /^\s*[+-]?[0-9]+\s*$/.test(v)) return Number(v);
  return undefined;
}

/** `notifications.room` defaults to 50 (m.room.power_levels); other keys have no default. */
const NOTIFICATION_DEFAULTS: Readonly<Record<string, number>> = { room: 50 };

function senderNotificationPermission(cond: PushCondition): Test | null {
  const key = cond.key;
  if (typeof key !== 'string') return null;
  const fallback = Object.hasOwn(NOTIFICATION_DEFAULTS, key) ? NOTIFICATION_DEFAULTS[key] : undefined;
  return (_e, ctx) => {
    const levels = ctx.notificationPowerLevels?.notifications;
    let required = fallback;
    if (typeof levels === 'object' && levels !== null && Object.hasOwn(levels, key)) {
      required = powerLevelValue((levels as Record<string, unknown>)[key]) ?? fallback;
    }
    return required !== undefined && ctx.senderPowerLevel >= required;
  };
}

function compileConditionUncached(cond: PushCondition, isDefault: boolean): Test | null {
  if (typeof cond !== 'object' || cond === null) return null;
  switch (cond.kind) {
    case 'event_match':
      return eventMatch(cond, isDefault);
    case 'event_property_is':
      return eventPropertyIs(cond, isDefault);
    case 'event_property_contains':
      return eventPropertyContains(cond, isDefault);
    case 'contains_display_name':
      return containsDisplayName;
    case 'room_member_count':
      return roomMemberCount(cond);
    case 'sender_notification_permission':
      return senderNotificationPermission(cond);
    default:
      // Unrecognised conditions must not match anything.
      return null;
  }
}

const conditionCache = [new WeakMap<PushCondition, Test | null>(), new WeakMap<PushCondition, Test | null>()] as const;

function compileCondition(cond: PushCondition, isDefault: boolean): Test | null {
  const cache = conditionCache[isDefault ? 1 : 0];
  if (typeof cond !== 'object' || cond === null) return null;
  let t = cache.get(cond);
  if (t === undefined) {
    t = compileConditionUncached(cond, isDefault);
    cache.set(cond, t);
  }
  return t;
}

function allOf(tests: Test[]): Test {
  if (tests.length === 0) return always;
  if (tests.length === 1) return tests[0] as Test;
  if (tests.length === 2) {
    const [a, b] = tests as [Test, Test];
    return (e, c) => a(e, c) && b(e, c);
  }
  return (e, c) => {
    for (let i = 0; i < tests.length; i++) if (!(tests[i] as Test)(e, c)) return false;
    return true;
  };
}

// ---- rules --------------------------------------------------------------------------------------

/** The matcher for the recipient's localpart, remembered for the last recipient seen. */
let lastLocalpartUser = '';
let lastLocalpartMatcher: GlobMatcher | undefined;
function localpartMatcher(userId: string): GlobMatcher {
  if (userId !== lastLocalpartUser || !lastLocalpartMatcher) {
    lastLocalpartMatcher = globMatcher(localpartOf(userId), 'word');
    lastLocalpartUser = userId;
  }
  return lastLocalpartMatcher;
}

export function localpartOf(userId: string): string {
  const colon = userId.indexOf(':');
  return userId.slice(userId.startsWith('@') ? 1 : 0, colon < 0 ? undefined : colon);
}

function contentRuleTest(rule: PushRule): Test | null {
  const pattern = rule.pattern;
  if (typeof pattern !== 'string') return null;
  if (rule.default && pattern === LOCALPART_PLACEHOLDER) {
    return (event, ctx) => {
      const body = getBody(event);
      return typeof body === 'string' && localpartMatcher(ctx.userId).test(body);
    };
  }
  const matcher = globMatcher(pattern, 'word');
  return (event) => {
    const body = getBody(event);
    return typeof body === 'string' && matcher.test(body);
  };
}

const NEVER: RuleMatcher = { test: null, type: null, typeMatcher: null };
const only = (test: Test | null): RuleMatcher => (test === null ? NEVER : { test, type: null, typeMatcher: null });

function isLiteralTypeMatch(c: PushCondition, isDefault: boolean): c is PushCondition & { pattern: string } {
  return (
    typeof c === 'object' && c !== null && c.kind === 'event_match' && c.key === 'type' && typeof c.pattern === 'string' &&
    !/[*?]/.test(c.pattern) && !(isDefault && c.pattern === USER_ID_PLACEHOLDER)
  );
}

function conditionsMatcher(rule: PushRule): RuleMatcher {
  const conditions = rule.conditions ?? [];
  if (!Array.isArray(conditions)) return NEVER;
  const tests: Test[] = [];
  let type: string | null = null;
  for (const c of conditions) {
    if (type === null && isLiteralTypeMatch(c, rule.default)) {
      type = c.pattern;
      continue;
    }
    const t = compileCondition(c, rule.default);
    if (t === null) return NEVER;
    tests.push(t);
  }
  return { test: allOf(tests), type, typeMatcher: type === null ? null : globMatcher(type, 'whole') };
}

function ruleMatcher(rule: PushRule): RuleMatcher {
  const kind: PushRuleKind = rule.kind;
  switch (kind) {
    case 'override':
    case 'underride':
      return conditionsMatcher(rule);
    case 'content':
      return only(contentRuleTest(rule));
    case 'room': {
      const roomId = rule.rule_id;
      return only((event) => event.room_id === roomId);
    }
    case 'sender': {
      const sender = rule.rule_id;
      return only((event) => event.sender === sender);
    }
    default:
      return NEVER;
  }
}

/** Drop the historical actions the spec says to ignore, and read off notify and highlight. */
export function summariseActions(actions: readonly PushAction[], ruleId: string | null): PushEvaluation {
  const kept: PushAction[] = [];
  let notify = false;
  let highlight = false;
  for (const a of Array.isArray(actions) ? actions : []) {
    if (a === 'dont_notify' || a === 'coalesce') continue;
    kept.push(a);
    if (a === 'notify') notify = true;
    else if (typeof a === 'object' && a !== null && a.set_tweak === 'highlight') highlight = a.value === undefined || a.value === true;
  }
  return Object.freeze({ notify, highlight, actions: Object.freeze(kept), ruleId });
}

const ruleCache = new WeakMap<PushRule, CompiledRule>();

function compileRule(rule: PushRule): CompiledRule {
  let compiled = ruleCache.get(rule);
  if (compiled === undefined) {
    compiled = {
      ...ruleMatcher(rule),
      ruleId: rule.rule_id,
      enabled: rule.enabled !== false,
      legacyMention: rule.default && LEGACY_MENTION_RULE_IDS.has(rule.rule_id),
      result: summariseActions(rule.actions, rule.rule_id),
    };
    ruleCache.set(rule, compiled);
  }
  return compiled;
}

const listCache = new WeakMap<readonly PushRule[], readonly CompiledRule[]>();

/** Most recipients share the untouched default list: remember the last list to skip the WeakMap. */
let lastList: readonly PushRule[] | undefined;
let lastCompiled: readonly CompiledRule[] = [];

function compileRules(rules: readonly PushRule[]): readonly CompiledRule[] {
  if (rules === lastList) return lastCompiled;
  let compiled = listCache.get(rules);
  if (compiled === undefined) {
    // Rules that can never fire are dropped here rather than skipped on every evaluation.
    compiled = rules.map(compileRule).filter((r) => r.enabled && r.test !== null);
    listCache.set(rules, compiled);
  }
  lastList = rules;
  lastCompiled = compiled;
  return compiled;
}

function hasMentionsProperty(event: PushEvent): boolean {
  const content = event.content;
  return typeof content === 'object' && content !== null && !Array.isArray(content) && Object.hasOwn(content, 'm.mentions');
}

/**
 * Evaluate `rules` (a user's rules merged with the server defaults, in evaluation order — see
 * `getPushRulesForUser`) for `event` as seen by `ctx.userId`. Events the user sent never notify them.
 * Treat `rules` as immutable: the compiled form is cached against the array.
 */
export function evaluatePushRules(rules: readonly PushRule[], event: PushEvent, ctx: PushContext): PushEvaluation {
  if (event.sender === ctx.userId) return NO_MATCH;
  const compiled = compileRules(rules);
  const type = event.type;
  let mentions: boolean | undefined;
  for (let i = 0; i < compiled.length; i++) {
    const rule = compiled[i] as CompiledRule;
    const wanted = rule.type;
    if (wanted !== null && wanted !== type && !(typeof type === 'string' && (rule.typeMatcher as GlobMatcher).test(type))) continue;
    if (rule.legacyMention) {
      // MSC3952: the body-text mention rules stand aside when the sender used intentional mentions.
      mentions ??= hasMentionsProperty(event);
      if (mentions) continue;
    }
    if ((rule.test as Test)(event, ctx)) return rule.result;
  }
  return NO_MATCH;
}
