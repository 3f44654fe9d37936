/**
 * Users' effective push rules for the event persister's hot path, cached per process. Each entry
 * remembers the user's `push_rules_stream` position it was loaded at (their row count and highest
 * stream ID: the count also moves when a change with a lower ID commits late) and when that was
 * checked. A batch first asks for the stream's newest ID (one index probe): if it moved, the users
 * with rows above the last one seen are dropped from the cache. Users not checked within `ttlMs` —
 * new to the cache, dropped, or just old — have their positions read in one query and their rules
 * reloaded, in one more, only where the position moved. The TTL bounds how long a change committed
 * out of stream order (below an ID already seen) can go unnoticed. Users who never changed anything
 * have no stream rows and get the shared defaults, loading nothing.
 */
import type { Sql } from '@hs/storage';
import { SPEC_DEFAULT_PUSH_RULES } from './default-push-rules.ts';
import type { PushRule } from './push-rule-types.ts';
import { getPushRulesForUsers } from './push-rules-store.ts';

/** The position of a user who never changed their rules: they get the defaults, nothing to load. */
const NO_CHANGES = '0:0';

interface Entry {
  readonly position: string;
  readonly rules: readonly PushRule[];
  readonly checkedAt: number;
}

export interface PushRulesCacheOptions {
  /** The server-default rules in force (see `serverDefaultPushRules`). */
  readonly defaults?: readonly PushRule[];
  /** Users kept; the longest-cached are dropped beyond this. Default 100 000. */
  readonly maxUsers?: number;
  /** Re-check each user's position at least this often. Default 5 s. */
  readonly ttlMs?: number;
  readonly clock?: () => number;
}

export class PushRulesCache {
  readonly defaults: readonly PushRule[];
  private readonly maxUsers: number;
  private readonly ttlMs: number;
  private readonly clock: () => number;
  private readonly entries = new Map<string, Entry>();
  /** The newest push_rules_stream ID whose users have been dropped from the cache. */
  private seen = -1;
  /** Told of every change by `forget` (the process follows the stream): `refresh` reads nothing. */
  private followed = false;
  /** Users whose rules were read from Postgres (for tests and metrics). */
  loads = 0;

  constructor(opts: PushRulesCacheOptions = {}) {
    this.defaults = opts.defaults ?? SPEC_DEFAULT_PUSH_RULES;
    this.maxUsers = opts.maxUsers ?? 100_000;
    this.ttlMs = opts.ttlMs ?? 5_000;
    this.clock = opts.clock ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * From now on the process tells the cache of every change to the push_rules stream (`forget`), so
   * batches need not look at the stream themselves.
   */
  followStream(): void {
    this.followed = true;
  }

  /** These users' rules changed (a push_rules stream row this process applied). */
  forget(userIds: Iterable<string>): void {
    for (const u of userIds) this.entries.delete(u);
  }

  /** Drop the users whose rules changed since the last call (cheap: run it with a batch's first queries). */
  async refresh(sql: Sql): Promise<void> {
    if (this.followed) return;
    const [row] = await sql<{ top: number | null }[]>`SELECT max(stream_id) AS top FROM push_rules_stream`;
    const top = Number(row?.top ?? 0);
    if (top === this.seen) return;
    if (this.seen < 0) {
      // First call: nothing is cached yet.
      this.seen = top;
      return;
    }
    const changed = await sql<{ user_id: string }[]>`
      SELECT DISTINCT user_id FROM push_rules_stream WHERE stream_id > ${this.seen} AND stream_id <= ${top}`;
    for (const r of changed) this.entries.delete(r.user_id);
    this.seen = top;
  }

  /** The effective rules of every user in `userIds` (each list is shared: treat it as immutable). */
  async rulesFor(sql: Sql, userIds: readonly string[]): Promise<Map<string, readonly PushRule[]>> {
    await this.refresh(sql);
    return this.rulesAfterRefresh(sql, userIds);
  }

  /** `rulesFor` when `refresh` has just run. */
  async rulesAfterRefresh(sql: Sql, userIds: readonly string[]): Promise<Map<string, readonly PushRule[]>> {
    const now = this.clock();
    const unchecked = userIds.filter((u) => {
      const e = this.entries.get(u);
      return e === undefined || now - e.checkedAt >= this.ttlMs;
    });
    if (unchecked.length > 0) await this.check(sql, unchecked, now);
    const out = new Map<string, readonly PushRule[]>();
    for (const userId of userIds) out.set(userId, this.entries.get(userId)?.rules ?? this.defaults);
    return out;
  }

  /** Read positions, then reload the rules of users whose position moved: never the other way round. */
  private async check(sql: Sql, userIds: readonly string[], now: number): Promise<void> {
    const rows = await sql<{ user_id: string; n: number; last: number }[]>`
      SELECT user_id, count(*)::int AS n, max(stream_id) AS last FROM push_rules_stream
       WHERE user_id = ANY(${userIds as string[]}) GROUP BY user_id`;
    const positions = new Map<string, string>(userIds.map((u) => [u, NO_CHANGES]));
    for (const r of rows) positions.set(r.user_id, `${r.n}:${r.last}`);
    const stale = userIds.filter((u) => positions.get(u) !== NO_CHANGES && this.entries.get(u)?.position !== positions.get(u));
    const loaded = stale.length > 0 ? await getPushRulesForUsers(sql, stale, this.defaults) : new Map<string, readonly PushRule[]>();
    this.loads += stale.length;
    for (const userId of userIds) {
      const position = positions.get(userId) as string;
      const rules = position === NO_CHANGES ? this.defaults : (loaded.get(userId) ?? this.entries.get(userId)?.rules ?? this.defaults);
      this.entries.delete(userId);
      this.entries.set(userId, { position, rules, checkedAt: now });
    }
    let excess = this.entries.size - this.maxUsers;
    if (excess <= 0) return;
    // Map iteration is insertion order: the first keys were checked longest ago.
    for (const key of this.entries.keys()) {
      if (excess-- <= 0) break;
      this.entries.delete(key);
    }
  }
}
