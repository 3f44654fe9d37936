/**
 * Handlers for the push rule endpoints. Reads merge the user's stored rules with the server defaults;
 * writes go through a `PushRulesUpdater` (locally: this process's push_rules stream writer).
 */
import { MatrixError, type Logger, type NotifyFn } from '@hs/core';
import { queryString, type Handler, type RequestContext, type Requester } from '@hs/http';
import type { Sql, StreamWriter } from '@hs/storage';
import { serverDefaultPushRules } from './default-push-rules.ts';
import { formatPushRule, formatPushRuleset } from './merge-push-rules.ts';
import type { PushRule, PushRuleKind } from './push-rule-types.ts';
import { checkActions, checkNewRuleId, isStorableRuleId, ruleFromBody } from './push-rule-validation.ts';
import { getPushRulesForUser } from './push-rules-store.ts';
import { createLocalPushRulesUpdater, ruleNotFound, type PushRulesUpdater } from './push-rules-updater.ts';

export interface PushDeps {
  readonly sql: Sql;
  readonly log: Logger;
  readonly notify: NotifyFn;
  /** This process's writer of the `push_rules` stream; needed only where the write endpoints are served. */
  readonly pushRulesWriter?: StreamWriter;
  /** Replaces the local write path (e.g. with a replication client to the stream's writer). */
  readonly updater?: PushRulesUpdater;
  /**
   * Also serve the legacy body-mention default rules (`.m.rule.contains_display_name`, `.m.rule.roomnotif`,
   * `.m.rule.contains_user_name`): Synapse still does; the spec dropped them in v1.17. Default false.
   */
  readonly legacyMentionRules?: boolean;
}

function user(ctx: RequestContext): Requester {
  const requester = ctx.requester;
  if (!requester) throw new Error('push rule endpoint reached without authentication');
  if (requester.isGuest) throw new MatrixError(403, 'M_GUEST_ACCESS_FORBIDDEN', 'Guests cannot manage push rules.');
  return requester;
}

function target(ctx: RequestContext): { kind: PushRuleKind; ruleId: string } {
  // The router only lets the five kinds through.
  return { kind: ctx.params.kind as PushRuleKind, ruleId: ctx.params.ruleId ?? '' };
}

export function createPushHandlers(deps: PushDeps): Map<string, Handler> {
  const { sql } = deps;
  const defaults = serverDefaultPushRules({ legacyMentions: deps.legacyMentionRules === true });
  const updater =
    deps.updater ??
    (deps.pushRulesWriter
      ? createLocalPushRulesUpdater({ sql, writer: deps.pushRulesWriter, notify: deps.notify, log: deps.log, defaults })
      : undefined);
  const writes = (): PushRulesUpdater => {
    if (!updater) throw new Error('this process does not write the push_rules stream; push rule writes must be routed to its writer');
    return updater;
  };

  async function findRule(ctx: RequestContext): Promise<{ rule: PushRule; userId: string }> {
    const { userId } = user(ctx);
    const { kind, ruleId } = target(ctx);
    if (!isStorableRuleId(ruleId)) throw ruleNotFound();
    const rules = await getPushRulesForUser(sql, userId, defaults);
    const rule = rules.find((r) => r.kind === kind && r.rule_id === ruleId);
    if (!rule) throw ruleNotFound();
    return { rule, userId };
  }

  return new Map<string, Handler>([
    [
      'pushrules_get_all',
      async (ctx) => {
        const { userId } = user(ctx);
        return { body: { global: formatPushRuleset(await getPushRulesForUser(sql, userId, defaults), userId) } };
      },
    ],
    [
      'pushrules_get_global',
      async (ctx) => {
        const { userId } = user(ctx);
        return { body: formatPushRuleset(await getPushRulesForUser(sql, userId, defaults), userId) };
      },
    ],
    [
      'pushrules_get_rule',
      async (ctx) => {
        const { rule, userId } = await findRule(ctx);
        return { body: formatPushRule(rule, userId) };
      },
    ],
    [
      'pushrules_get_enabled',
      async (ctx) => {
        const { rule } = await findRule(ctx);
        return { body: { enabled: rule.enabled } };
      },
    ],
    [
      'pushrules_get_actions',
      async (ctx) => {
        const { rule } = await findRule(ctx);
        return { body: { actions: rule.actions } };
      },
    ],
    [
      'pushrules_put_rule',
      async (ctx) => {
        const { userId } = user(ctx);
        const { kind, ruleId } = target(ctx);
        checkNewRuleId(ruleId);
        const rule = ruleFromBody(kind, ruleId, ctx.body as Record<string, unknown>);
        const before = queryString(ctx.req, 'before');
        const after = queryString(ctx.req, 'after');
        await writes().putRule(userId, rule, { ...(before !== undefined ? { before } : {}), ...(after !== undefined ? { after } : {}) });
        return { body: {} };
      },
    ],
    [
      'pushrules_delete_rule',
      async (ctx) => {
        const { userId } = user(ctx);
        const { kind, ruleId } = target(ctx);
        if (!isStorableRuleId(ruleId)) throw ruleNotFound();
        await writes().deleteRule(userId, kind, ruleId);
        return { body: {} };
      },
    ],
    [
      'pushrules_put_enabled',
      async (ctx) => {
        const { userId } = user(ctx);
        const { kind, ruleId } = target(ctx);
        if (!isStorableRuleId(ruleId)) throw ruleNotFound();
        await writes().setEnabled(userId, kind, ruleId, (ctx.body as { enabled: boolean }).enabled);
        return { body: {} };
      },
    ],
    [
      'pushrules_put_actions',
      async (ctx) => {
        const { userId } = user(ctx);
        const { kind, ruleId } = target(ctx);
        if (!isStorableRuleId(ruleId)) throw ruleNotFound();
        const actions = checkActions((ctx.body as { actions: unknown[] }).actions);
        await writes().setActions(userId, kind, ruleId, actions);
        return { body: {} };
      },
    ],
  ]);
}
