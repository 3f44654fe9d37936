/**
 * Push rules as data (client-server API › Push Notifications). A rule carries its `kind` so one flat
 * list in evaluation order can hold every kind; the client-facing JSON leaves `kind` out and groups
 * rules by it instead (see `formatPushRuleset`).
 */
import type { JsonValue } from '@hs/core';

/** The kinds in the order the spec checks them. */
export const PUSH_RULE_KINDS = ['override', 'content', 'room', 'sender', 'underride'] as const;
export type PushRuleKind = (typeof PUSH_RULE_KINDS)[number];

export function isPushRuleKind(s: string): s is PushRuleKind {
  return (PUSH_RULE_KINDS as readonly string[]).includes(s);
}

/** One condition of an override/underride rule. Unknown kinds are kept (they make the rule never match). */
export interface PushCondition {
  readonly kind: string;
  readonly key?: string;
  readonly pattern?: string;
  readonly is?: string;
  readonly value?: JsonValue;
  readonly [extra: string]: unknown;
}

/** `"notify"`, or an object such as `{ "set_tweak": "sound", "value": "default" }`. */
export type PushAction = string | { readonly set_tweak: string; readonly value?: JsonValue; readonly [extra: string]: unknown };

export interface PushRule {
  readonly kind: PushRuleKind;
  readonly rule_id: string;
  /** True for server-default rules (their IDs start with "."). */
  readonly default: boolean;
  readonly enabled: boolean;
  readonly actions: readonly PushAction[];
  /** override and underride rules only. */
  readonly conditions?: readonly PushCondition[];
  /** content rules only. */
  readonly pattern?: string;
}

/** The client-facing ruleset: one array per kind, each in evaluation order. */
export type PushRuleset = Record<PushRuleKind, Record<string, unknown>[]>;
