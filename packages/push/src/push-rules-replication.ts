/**
 * Push rule changes over HTTP replication: a worker that does not write the `push_rules` stream
 * forwards each `PushRulesUpdater` call to the stream's writer, which runs its local updater (and so
 * announces the change); its 404s and 400s come back to the client unchanged. The worker then waits
 * until it has applied the position, so the client reads its own change from this worker next.
 */
import { errors, isJsonObject, type JsonObject, type JsonValue } from '@hs/core';
import { arrayField, booleanField, forwardPositionedWrite, objectField, optionalField, registerWriteEndpoint, textField, userIdField, type Fields, type ReplicatedWriterOptions, type ReplicationEndpointRegistry } from '@hs/replication';
import { isPushRuleKind, type PushAction, type PushCondition, type PushRuleKind } from './push-rule-types.ts';
import { isStorableRuleId } from './push-rule-validation.ts';
import type { NewPushRule, PushRulesUpdater, RulePlacement } from './push-rules-updater.ts';

const STREAM = 'push_rules';

function kindField(f: Fields, key: string): PushRuleKind {
  const kind = textField(f, key);
  if (!isPushRuleKind(kind)) throw errors.badJson(`${key} must be a push rule kind`);
  return kind;
}

function ruleIdField(f: Fields, key: string): string {
  const ruleId = textField(f, key);
  if (!isStorableRuleId(ruleId)) throw errors.badJson(`${key} must be a rule ID`);
  return ruleId;
}

/** `"notify"`-style strings or `{ set_tweak, … }` objects; which ones are known was checked by the client's handler. */
function actionsField(f: Fields, key: string): PushAction[] {
  const actions = arrayField(f, key);
  for (const a of actions) {
    if (typeof a !== 'string' && !(isJsonObject(a) && typeof a['set_tweak'] === 'string')) throw errors.badJson(`${key} must be push rule actions`);
  }
  return actions as PushAction[];
}

function conditionsField(f: Fields, key: string): PushCondition[] {
  const conditions = arrayField(f, key);
  for (const c of conditions) {
    if (!isJsonObject(c) || typeof c['kind'] !== 'string') throw errors.badJson(`${key} must be push rule conditions`);
  }
  return conditions as PushCondition[];
}

function ruleField(f: Fields, key: string): NewPushRule {
  const r = objectField(f, key);
  return {
    kind: kindField(r, 'kind'),
    rule_id: ruleIdField(r, 'rule_id'),
    actions: actionsField(r, 'actions'),
    ...(r['conditions'] !== undefined ? { conditions: conditionsField(r, 'conditions') } : {}),
    ...(r['pattern'] !== undefined ? { pattern: textField(r, 'pattern') } : {}),
  };
}

function placementField(f: Fields, key: string): RulePlacement {
  const p = objectField(f, key);
  const before = optionalField(p, 'before', textField);
  const after = optionalField(p, 'after', textField);
  return { ...(before !== undefined ? { before } : {}), ...(after !== undefined ? { after } : {}) };
}

/** Endpoint names: `push_rules_<verb>`; bodies carry the updater's arguments by name. */
export function registerPushRulesReplicationEndpoints(server: ReplicationEndpointRegistry, local: PushRulesUpdater): void {
  registerWriteEndpoint(server, 'push_rules_put_rule', (f) => local.putRule(userIdField(f, 'userId'), ruleField(f, 'rule'), placementField(f, 'placement')));
  registerWriteEndpoint(server, 'push_rules_delete_rule', (f) => local.deleteRule(userIdField(f, 'userId'), kindField(f, 'kind'), ruleIdField(f, 'ruleId')));
  registerWriteEndpoint(server, 'push_rules_set_enabled', (f) =>
    local.setEnabled(userIdField(f, 'userId'), kindField(f, 'kind'), ruleIdField(f, 'ruleId'), booleanField(f, 'enabled')),
  );
  registerWriteEndpoint(server, 'push_rules_set_actions', (f) =>
    local.setActions(userIdField(f, 'userId'), kindField(f, 'kind'), ruleIdField(f, 'ruleId'), actionsField(f, 'actions')),
  );
}

/** A `PushRulesUpdater` for processes that do not write `push_rules`. */
export class ReplicatedPushRulesUpdater implements PushRulesUpdater {
  private readonly opts: ReplicatedWriterOptions;

  constructor(opts: ReplicatedWriterOptions) {
    this.opts = opts;
  }

  // Every successful change takes a stream ID; failures arrive as the writer's MatrixError.
  putRule(userId: string, rule: NewPushRule, placement: RulePlacement): Promise<number> {
    return forwardPositionedWrite(this.opts, STREAM, 'push_rules_put_rule', { userId, rule: rule as unknown as JsonObject, placement: { ...placement } });
  }

  deleteRule(userId: string, kind: PushRuleKind, ruleId: string): Promise<number> {
    return forwardPositionedWrite(this.opts, STREAM, 'push_rules_delete_rule', { userId, kind, ruleId });
  }

  setEnabled(userId: string, kind: PushRuleKind, ruleId: string, enabled: boolean): Promise<number> {
    return forwardPositionedWrite(this.opts, STREAM, 'push_rules_set_enabled', { userId, kind, ruleId, enabled });
  }

  setActions(userId: string, kind: PushRuleKind, ruleId: string, actions: readonly PushAction[]): Promise<number> {
    return forwardPositionedWrite(this.opts, STREAM, 'push_rules_set_actions', { userId, kind, ruleId, actions: actions as unknown as JsonValue[] });
  }
}
