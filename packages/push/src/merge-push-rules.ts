/**
 * A user's effective push rules: their own rules merged with the server defaults (with the user's
 * enabled/actions changes to those applied), in evaluation order — `.m.rule.master` first, then per
 * kind the user's rules (most important first) ahead of the defaults of that kind. Also the
 * client-facing ruleset, where the default rules' placeholders become the user's own IDs.
 */
import { LOCALPART_PLACEHOLDER, MASTER_RULE_ID, USER_ID_PLACEHOLDER } from './default-push-rules.ts';
import { localpartOf } from './evaluate-push-rules.ts';
import { PUSH_RULE_KINDS, type PushAction, type PushCondition, type PushRule, type PushRuleset } from './push-rule-types.ts';

/** A user's change to a server-default rule; absent fields keep the default. */
export interface DefaultRuleChange {
  readonly kind: string;
  readonly rule_id: string;
  readonly enabled?: boolean | null;
  readonly actions?: readonly PushAction[] | null;
}

/**
 * `userRules` must already be ordered most important first within each kind. With no user rules and
 * no changes the shared `defaults` array itself is returned, so evaluation reuses its compiled form.
 */
export function mergePushRules(
  defaults: readonly PushRule[],
  userRules: readonly PushRule[],
  changes: readonly DefaultRuleChange[],
): readonly PushRule[] {
  if (userRules.length === 0 && changes.length === 0) return defaults;
  const changed = new Map<string, DefaultRuleChange>();
  for (const c of changes) changed.set(`${c.kind}\u0000${c.rule_id}`, c);
  const effective = (rule: PushRule): PushRule => {
    const c = changed.get(`${rule.kind}\u0000${rule.rule_id}`);
    if (!c) return rule;
    return {
      ...rule,
      enabled: typeof c.enabled === 'boolean' ? c.enabled : rule.enabled,
      actions: Array.isArray(c.actions) ? c.actions : rule.actions,
    };
  };
  const out: PushRule[] = [];
  for (const kind of PUSH_RULE_KINDS) {
    if (kind === 'override') for (const r of defaults) if (r.kind === kind && r.rule_id === MASTER_RULE_ID) out.push(effective(r));
    for (const r of userRules) if (r.kind === kind) out.push(r);
    for (const r of defaults) if (r.kind === kind && r.rule_id !== MASTER_RULE_ID) out.push(effective(r));
  }
  return out;
}

function substitute(value: unknown, userId: string): unknown {
  return value === USER_ID_PLACEHOLDER ? userId : value;
}

/** One rule as clients see it (`kind` is where it sits in the ruleset, not a field). */
export function formatPushRule(rule: PushRule, userId: string): Record<string, unknown> {
  const out: Record<string, unknown> = { rule_id: rule.rule_id, default: rule.default, enabled: rule.enabled, actions: rule.actions };
  if (rule.kind === 'override' || rule.kind === 'underride') {
    const conditions = rule.conditions ?? [];
    out.conditions = rule.default
      ? conditions.map((c: PushCondition) => {
          const copy: Record<string, unknown> = { ...c };
          if ('pattern' in copy) copy.pattern = substitute(copy.pattern, userId);
          if ('value' in copy) copy.value = substitute(copy.value, userId);
          return copy;
        })
      : conditions;
  } else if (rule.kind === 'content') {
    out.pattern = rule.default && rule.pattern === LOCALPART_PLACEHOLDER ? localpartOf(userId) : rule.pattern;
  }
  return out;
}

/** The `global` ruleset of `GET /pushrules/` and of the `m.push_rules` account data. */
export function formatPushRuleset(rules: readonly PushRule[], userId: string): PushRuleset {
  const set: PushRuleset = { override: [], content: [], room: [], sender: [], underride: [] };
  for (const r of rules) set[r.kind].push(formatPushRule(r, userId));
  return set;
}
