/**
 * Reading push rules from Postgres: one user's (for the CRUD endpoints and /sync's `m.push_rules`),
 * or many users' in one query (for the event persister, which evaluates every recipient of an event).
 */
import type { Sql } from '@hs/storage';
import { SPEC_DEFAULT_PUSH_RULES } from './default-push-rules.ts';
import { formatPushRuleset, mergePushRules, type DefaultRuleChange } from './merge-push-rules.ts';
import { isPushRuleKind, type PushAction, type PushCondition, type PushRule, type PushRuleset } from './push-rule-types.ts';

interface Row {
  user_id: string;
  is_default: boolean;
  kind: string;
  rule_id: string;
  conditions: PushCondition[] | null;
  pattern: string | null;
  actions: PushAction[] | null;
  enabled: boolean | null;
}

function ruleFromRow(row: Row): PushRule | undefined {
  if (!isPushRuleKind(row.kind)) return undefined;
  const rule: { -readonly [K in keyof PushRule]: PushRule[K] } = {
    kind: row.kind,
    rule_id: row.rule_id,
    default: false,
    enabled: row.enabled !== false,
    actions: row.actions ?? [],
  };
  if (row.kind === 'override' || row.kind === 'underride') rule.conditions = row.conditions ?? [];
  if (row.kind === 'content' && row.pattern !== null) rule.pattern = row.pattern;
  return rule;
}

async function loadRows(sql: Sql, userIds: readonly string[]): Promise<Row[]> {
  // User rules come back most important first within each kind; default changes carry no order.
  return sql<Row[]>`
    SELECT user_id, FALSE AS is_default, kind, rule_id, conditions, pattern, actions, enabled, priority
      FROM push_rules WHERE user_id = ANY(${userIds as string[]})
    UNION ALL
    SELECT user_id, TRUE, kind, rule_id, NULL, NULL, actions, enabled, 0
      FROM push_rule_default_changes WHERE user_id = ANY(${userIds as string[]})
    ORDER BY user_id, priority DESC`;
}

function mergeRows(rows: readonly Row[], defaults: readonly PushRule[]): readonly PushRule[] {
  const own: PushRule[] = [];
  const changes: DefaultRuleChange[] = [];
  for (const row of rows) {
    if (row.is_default) changes.push(row);
    else {
      const rule = ruleFromRow(row);
      if (rule) own.push(rule);
    }
  }
  return mergePushRules(defaults, own, changes);
}

/** One user's effective rules in evaluation order (user rules merged with `defaults`). */
export async function getPushRulesForUser(
  sql: Sql,
  userId: string,
  defaults: readonly PushRule[] = SPEC_DEFAULT_PUSH_RULES,
): Promise<readonly PushRule[]> {
  return mergeRows(await loadRows(sql, [userId]), defaults);
}

/**
 * Many users' effective rules in one query. Users with nothing stored share the `defaults` array
 * itself (so the evaluator compiles it once); treat every returned list as immutable.
 */
export async function getPushRulesForUsers(
  sql: Sql,
  userIds: readonly string[],
  defaults: readonly PushRule[] = SPEC_DEFAULT_PUSH_RULES,
): Promise<Map<string, readonly PushRule[]>> {
  const out = new Map<string, readonly PushRule[]>();
  if (userIds.length === 0) return out;
  const rows = await loadRows(sql, [...new Set(userIds)]);
  const byUser = new Map<string, Row[]>();
  for (const row of rows) {
    let list = byUser.get(row.user_id);
    if (!list) byUser.set(row.user_id, (list = []));
    list.push(row);
  }
  for (const userId of userIds) out.set(userId, mergeRows(byUser.get(userId) ?? [], defaults));
  return out;
}

/** The content of the user's `m.push_rules` account data event, as /sync sends it. */
export async function getPushRulesAccountData(
  sql: Sql,
  userId: string,
  defaults: readonly PushRule[] = SPEC_DEFAULT_PUSH_RULES,
): Promise<{ global: PushRuleset }> {
  return { global: formatPushRuleset(await getPushRulesForUser(sql, userId, defaults), userId) };
}

/**
 * Which of `userIds` changed their push rules in the stream range (`from`, `to`] — what /sync asks to
 * decide whether to send `m.push_rules`. Uses the (user_id, stream_id) index.
 */
export async function usersWithPushRuleChanges(sql: Sql, userIds: readonly string[], from: number, to: number): Promise<Set<string>> {
  if (userIds.length === 0 || to <= from) return new Set();
  const rows = await sql<{ user_id: string }[]>`
    SELECT DISTINCT user_id FROM push_rules_stream
     WHERE user_id = ANY(${userIds as string[]}) AND stream_id > ${from} AND stream_id <= ${to}`;
  return new Set(rows.map((r) => r.user_id));
}
