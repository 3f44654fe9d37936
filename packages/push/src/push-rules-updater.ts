/**
 * Changing a user's push rules. Every change is one transaction that also appends a `push_rules_stream`
 * row under an ID from the stream's writer, then wakes /sync (`m.push_rules` account data). The writes
 * sit behind `PushRulesUpdater` so a process that does not write the stream can forward them instead.
 * A user's changes are serialised (advisory lock) because reordering reads and rewrites the whole kind.
 */
import { MatrixError, errors, type Logger, type NotifyFn } from '@hs/core';
import type { Sql, StreamWriter, TransactionSql } from '@hs/storage';
import type { PushAction, PushCondition, PushRule, PushRuleKind } from './push-rule-types.ts';

export interface NewPushRule {
  readonly kind: PushRuleKind;
  readonly rule_id: string;
  readonly actions: readonly PushAction[];
  readonly conditions?: readonly PushCondition[];
  readonly pattern?: string;
}

/** Where a new or updated rule goes among the user's rules of its kind (`before` wins over `after`). */
export interface RulePlacement {
  readonly before?: string;
  readonly after?: string;
}

/** Each method resolves to the stream position of the change, or throws a MatrixError (404/400). */
export interface PushRulesUpdater {
  putRule(userId: string, rule: NewPushRule, placement: RulePlacement): Promise<number>;
  deleteRule(userId: string, kind: PushRuleKind, ruleId: string): Promise<number>;
  setEnabled(userId: string, kind: PushRuleKind, ruleId: string, enabled: boolean): Promise<number>;
  setActions(userId: string, kind: PushRuleKind, ruleId: string, actions: readonly PushAction[]): Promise<number>;
}

export interface LocalPushRulesUpdaterDeps {
  readonly sql: Sql;
  readonly writer: StreamWriter;
  readonly notify: NotifyFn;
  readonly log: Logger;
  /** The server-default rules in force (their enabled/actions can be changed, nothing else). */
  readonly defaults: readonly PushRule[];
}

type Op = 'put' | 'delete' | 'enabled' | 'actions';

/** Keeps a user's rule edits from interleaving; the key namespace is arbitrary but fixed. */
const LOCK_NAMESPACE = 7_304_105;

export const ruleNotFound = (): MatrixError => errors.notFound('The push rule was not found.');

export function createLocalPushRulesUpdater(deps: LocalPushRulesUpdaterDeps): PushRulesUpdater {
  const { sql, writer, notify, log } = deps;
  const isDefault = (kind: PushRuleKind, ruleId: string): boolean => deps.defaults.some((r) => r.kind === kind && r.rule_id === ruleId);

  async function change(userId: string, kind: PushRuleKind, ruleId: string, op: Op, work: (tx: TransactionSql) => Promise<void>): Promise<number> {
    const position = await writer.withIds(1, async ([id]) => {
      await sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${LOCK_NAMESPACE}, hashtext(${userId}))`;
        await work(tx);
        await tx`INSERT INTO push_rules_stream (stream_id, user_id, kind, rule_id, op) VALUES (${id as number}, ${userId}, ${kind}, ${ruleId}, ${op})`;
      });
      // After the commit, before the ID is released: the change is announced with the ID.
      notify({ stream: 'push_rules', position: id as number, users: [userId] });
      return id as number;
    });
    log.debug('push rules changed', { user: userId, kind, rule: ruleId, op, position });
    return position;
  }

  return {
    putRule(userId, rule, placement) {
      const { kind, rule_id: ruleId } = rule;
      const conditions = kind === 'override' || kind === 'underride' ? JSON.stringify(rule.conditions ?? []) : null;
      const pattern = kind === 'content' ? (rule.pattern ?? null) : null;
      const actions = JSON.stringify(rule.actions);
      return change(userId, kind, ruleId, 'put', async (tx) => {
        const existing = await tx<{ rule_id: string; priority: number }[]>`
          SELECT rule_id, priority FROM push_rules WHERE user_id = ${userId} AND kind = ${kind} ORDER BY priority DESC`;
        const anchor = placement.before ?? placement.after;
        if (anchor === undefined) {
          // Synapse's behaviour: a put without placement makes the rule the most important of its kind.
          const top = existing[0]?.priority ?? 0;
          await upsert(tx, top + 1);
          return;
        }
        const order = existing.map((r) => r.rule_id).filter((id) => id !== ruleId);
        const at = order.indexOf(anchor);
        if (at < 0) throw new MatrixError(400, 'M_UNKNOWN', `before/after rule not found: ${anchor}`);
        order.splice(placement.before !== undefined ? at : at + 1, 0, ruleId);
        await upsert(tx, 0);
        // Renumber the kind: first in `order` gets the highest priority.
        const priorities = order.map((_, i) => order.length - i);
        await tx`
          UPDATE push_rules AS p SET priority = v.priority
            FROM unnest(${order}::text[], ${priorities}::bigint[]) AS v(rule_id, priority)
           WHERE p.user_id = ${userId} AND p.kind = ${kind} AND p.rule_id = v.rule_id`;
      });

      async function upsert(tx: TransactionSql, priority: number): Promise<void> {
        // An update keeps the rule's enabled state; a new rule starts enabled.
        await tx`
          INSERT INTO push_rules (user_id, kind, rule_id, priority, conditions, pattern, actions)
          VALUES (${userId}, ${kind}, ${ruleId}, ${priority}, ${conditions}::text::json, ${pattern}, ${actions}::text::json)
          ON CONFLICT (user_id, kind, rule_id) DO UPDATE
            SET priority = EXCLUDED.priority, conditions = EXCLUDED.conditions, pattern = EXCLUDED.pattern, actions = EXCLUDED.actions`;
      }
    },

    deleteRule(userId, kind, ruleId) {
      if (isDefault(kind, ruleId)) return Promise.reject(errors.invalidParam('Server-default push rules cannot be deleted.'));
      return change(userId, kind, ruleId, 'delete', async (tx) => {
        const gone = await tx`DELETE FROM push_rules WHERE user_id = ${userId} AND kind = ${kind} AND rule_id = ${ruleId} RETURNING 1`;
        if (gone.length === 0) throw ruleNotFound();
      });
    },

    setEnabled(userId, kind, ruleId, enabled) {
      return change(userId, kind, ruleId, 'enabled', async (tx) => {
        if (isDefault(kind, ruleId)) {
          await tx`
            INSERT INTO push_rule_default_changes (user_id, kind, rule_id, enabled) VALUES (${userId}, ${kind}, ${ruleId}, ${enabled})
            ON CONFLICT (user_id, kind, rule_id) DO UPDATE SET enabled = EXCLUDED.enabled`;
          return;
        }
        const hit = await tx`UPDATE push_rules SET enabled = ${enabled} WHERE user_id = ${userId} AND kind = ${kind} AND rule_id = ${ruleId} RETURNING 1`;
        if (hit.length === 0) throw ruleNotFound();
      });
    },

    setActions(userId, kind, ruleId, actions) {
      const json = JSON.stringify(actions);
      return change(userId, kind, ruleId, 'actions', async (tx) => {
        if (isDefault(kind, ruleId)) {
          await tx`
            INSERT INTO push_rule_default_changes (user_id, kind, rule_id, actions) VALUES (${userId}, ${kind}, ${ruleId}, ${json}::text::json)
            ON CONFLICT (user_id, kind, rule_id) DO UPDATE SET actions = EXCLUDED.actions`;
          return;
        }
        const hit = await tx`UPDATE push_rules SET actions = ${json}::text::json WHERE user_id = ${userId} AND kind = ${kind} AND rule_id = ${ruleId} RETURNING 1`;
        if (hit.length === 0) throw ruleNotFound();
      });
    },
  };
}
