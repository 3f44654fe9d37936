/**
 * Checks on what clients send to the push rule endpoints, beyond the body schemas: rule IDs, the
 * parameters each kind needs, and the actions we know. Everything maps to a 4xx.
 */
import { MatrixError, errors } from '@hs/core';
import type { NewPushRule } from './push-rules-updater.ts';
import type { PushAction, PushCondition, PushRuleKind } from './push-rule-types.ts';

/** Longer IDs would not fit the primary-key index; real room and user IDs stay under 255 bytes. */
const MAX_RULE_ID_BYTES = 1024;

/** Whether `ruleId` could name a stored rule at all (Postgres text holds no NUL; IDs must be valid UTF-16). */
export function isStorableRuleId(ruleId: string): boolean {
  return ruleId.length > 0 && !ruleId.includes('\u0000') && ruleId.isWellFormed() && Buffer.byteLength(ruleId) <= MAX_RULE_ID_BYTES;
}

/** A rule ID a client may create: the spec reserves "." for server defaults and forbids slashes. */
export function checkNewRuleId(ruleId: string): void {
  if (ruleId.startsWith('.')) throw errors.invalidParam("Rule IDs starting with '.' are reserved for server-default rules.");
  if (ruleId.includes('/') || ruleId.includes('\\')) throw errors.invalidParam('Rule IDs may not contain slashes or backslashes.');
  if (!isStorableRuleId(ruleId)) throw errors.invalidParam(`Rule IDs must be 1 to ${MAX_RULE_ID_BYTES} bytes of valid text.`);
}

/**
 * The actions we accept (as Synapse does): `notify`, tweaks, and the historical `dont_notify` and
 * `coalesce`, which the spec says to ignore — they are dropped here so they are never stored.
 */
export function checkActions(actions: readonly unknown[]): PushAction[] {
  const kept: PushAction[] = [];
  for (const a of actions) {
    if (a === 'dont_notify' || a === 'coalesce') continue;
    if (a === 'notify') kept.push(a);
    else if (typeof a === 'object' && a !== null && !Array.isArray(a) && typeof (a as { set_tweak?: unknown }).set_tweak === 'string') {
      kept.push(a as PushAction);
    } else {
      throw errors.invalidParam(`Unrecognised push rule action: ${JSON.stringify(a)}`);
    }
  }
  return kept;
}

function checkText(value: string, what: string): void {
  if (value.includes('\u0000') || !value.isWellFormed()) throw errors.invalidParam(`${what} must be valid text without NUL characters.`);
}

/** The rule a PUT body describes for `kind`, or the 400 the spec calls for. */
export function ruleFromBody(kind: PushRuleKind, ruleId: string, body: Record<string, unknown>): NewPushRule {
  const actions = checkActions(body.actions as unknown[]);
  if (kind === 'override' || kind === 'underride') {
    if (body.conditions === undefined) throw new MatrixError(400, 'M_MISSING_PARAM', `${kind} rules need conditions.`);
    return { kind, rule_id: ruleId, actions, conditions: body.conditions as PushCondition[] };
  }
  if (kind === 'content') {
    if (typeof body.pattern !== 'string') throw new MatrixError(400, 'M_MISSING_PARAM', 'content rules need a pattern.');
    checkText(body.pattern, 'pattern');
    return { kind, rule_id: ruleId, actions, pattern: body.pattern };
  }
  return { kind, rule_id: ruleId, actions };
}
