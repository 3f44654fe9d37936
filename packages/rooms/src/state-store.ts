/**
 * Reading state groups (see docs/storage.md › State). A group is a full snapshot or a delta on one
 * predecessor; chains are short (the persister cuts them), so a group's state is one recursive walk
 * of `state_group_edges` plus the rows of the groups on the way. Groups never change once written,
 * so full maps are cached per process without invalidation.
 */
import type { StateKey, StateMap } from '@hs/events';
import { splitStateKey, stateKey } from '@hs/events';
import type { Sql, TransactionSql } from '@hs/storage';
import { WeightedLru } from './lru.ts';

/** (type, state_key) pairs to read; a null state_key means every key of that type. */
export type StateFilter = ReadonlyArray<readonly [type: string, stateKey: string | null]>;

export type Db = Sql | TransactionSql;

/** Keep only the filtered entries of a full state map. */
export function filterStateMap(map: StateMap, filter: StateFilter | undefined): StateMap {
  if (!filter) return map;
  const out = new Map<StateKey, string>();
  const wildTypes = new Set<string>();
  for (const [type, key] of filter) {
    if (key === null) wildTypes.add(type);
    else {
      const k = stateKey(type, key);
      const id = map.get(k);
      if (id !== undefined) out.set(k, id);
    }
  }
  if (wildTypes.size > 0) {
    for (const [k, id] of map) if (wildTypes.has(splitStateKey(k)[0])) out.set(k, id);
  }
  return out;
}

/** A filter as parallel arrays for SQL: exact (type, key) pairs, and types with any key. */
export function splitStateFilter(filter: StateFilter): { types: string[]; keys: string[]; wild: string[] } {
  const types: string[] = [];
  const keys: string[] = [];
  const wild: string[] = [];
  for (const [t, k] of filter) {
    if (k === null) wild.push(t);
    else {
      types.push(t);
      keys.push(k);
    }
  }
  return { types, keys, wild };
}

export class StateStore {
  private readonly sql: Sql;
  private readonly full: WeightedLru<number, StateMap>;
  private readonly depths = new WeightedLru<number, number>(100_000);
  /** event → group after it: immutable once written, so cached too. */
  private readonly eventGroups = new WeightedLru<string, number>(200_000);

  constructor(sql: Sql, cacheEntries = 200_000) {
    this.sql = sql;
    this.full = new WeightedLru<number, StateMap>(cacheEntries, (m) => m.size);
  }

  /** The state group AFTER each event (events without one are absent from the result). */
  async groupsForEvents(eventIds: readonly string[], db: Db = this.sql): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const missing: string[] = [];
    for (const id of eventIds) {
      const g = this.eventGroups.get(id);
      if (g === undefined) missing.push(id);
      else out.set(id, g);
    }
    if (missing.length === 0) return out;
    const rows = await db<{ event_id: string; state_group: number }[]>`
      SELECT event_id, state_group FROM event_to_state_groups WHERE event_id = ANY(${missing}::text[])`;
    for (const r of rows) {
      const g = Number(r.state_group);
      out.set(r.event_id, g);
      this.eventGroups.set(r.event_id, g);
    }
    return out;
  }

  /** Record the group after an event this process persisted (after the commit). */
  rememberEvent(eventId: string, group: number): void {
    this.eventGroups.set(eventId, group);
  }

  /** A group's full state map (cached), or filtered. */
  async groupState(group: number, filter?: StateFilter, db: Db = this.sql): Promise<StateMap> {
    const cached = this.full.get(group);
    if (cached) return filterStateMap(cached, filter);
    if (filter) return (await this.groupsStateFiltered([group], filter, db)).get(group) ?? new Map();
    return this.loadFull(group, db);
  }

  /** Several groups at once: cached ones from memory, the rest in one query. */
  async groupsState(groups: readonly number[], filter?: StateFilter, db: Db = this.sql): Promise<Map<number, StateMap>> {
    const out = new Map<number, StateMap>();
    const missing: number[] = [];
    for (const g of new Set(groups)) {
      const cached = this.full.get(g);
      if (cached) out.set(g, filterStateMap(cached, filter));
      else missing.push(g);
    }
    if (missing.length === 0) return out;
    if (!filter) {
      for (const g of missing) out.set(g, await this.loadFull(g, db));
      return out;
    }
    const found = await this.groupsStateFiltered(missing, filter, db);
    for (const g of missing) out.set(g, found.get(g) ?? new Map());
    return out;
  }

  /** How many delta hops lie between the group and its snapshot (0 for a snapshot). */
  async groupDepth(group: number, db: Db = this.sql): Promise<number> {
    const known = this.depths.get(group);
    if (known !== undefined) return known;
    const [row] = await db<{ delta_depth: number }[]>`SELECT delta_depth FROM state_groups WHERE id = ${group}`;
    if (!row) throw new Error(`unknown state group ${group}`);
    this.depths.set(group, row.delta_depth);
    return row.delta_depth;
  }

  /** Record a group written by this process (after its transaction committed). */
  remember(group: number, depth: number, fullState?: StateMap): void {
    this.depths.set(group, depth);
    if (fullState) this.full.set(group, fullState);
  }

  /** The cached full map of a group, if any (the persister derives its successors from it). */
  cachedFull(group: number): StateMap | undefined {
    return this.full.get(group);
  }

  /**
   * Two indexed queries: the chain of groups down to a snapshot (stopping at a cached ancestor
   * if there is one), then the rows of the groups above that point, applied oldest first.
   */
  private async loadFull(group: number, db: Db): Promise<StateMap> {
    const chain = await db<{ sg: number; prev: number | null }[]>`
      WITH RECURSIVE chain(sg, prev, hop) AS (
        SELECT ${group}::bigint, e.prev_state_group, 0
        FROM (SELECT 1) AS one LEFT JOIN state_group_edges e ON e.state_group = ${group}::bigint
        UNION ALL
        SELECT c.prev, e.prev_state_group, c.hop + 1
        FROM chain c LEFT JOIN state_group_edges e ON e.state_group = c.prev
        WHERE c.prev IS NOT NULL
      )
      SELECT sg, prev FROM chain ORDER BY hop`;
    const needed: number[] = [];
    let base: StateMap | undefined;
    let baseGroup: number | undefined;
    for (const link of chain) {
      const sg = Number(link.sg);
      const cached = sg === group ? undefined : this.full.get(sg);
      if (cached) {
        base = cached;
        baseGroup = sg;
        break;
      }
      needed.push(sg);
    }
    const rows = await db<{ state_group: number; type: string; state_key: string; event_id: string }[]>`
      SELECT state_group, type, state_key, event_id FROM state_groups_state
      WHERE state_group = ANY(${needed}::bigint[])`;
    type Row = (typeof rows)[number];
    const byGroup = new Map<number, Row[]>();
    for (const r of rows) {
      const g = Number(r.state_group);
      const list = byGroup.get(g);
      if (list) list.push(r);
      else byGroup.set(g, [r]);
    }
    const map = new Map<StateKey, string>(base ?? []);
    // Oldest (the snapshot or the cached ancestor's child) first, so newer entries win.
    for (let i = needed.length - 1; i >= 0; i--) {
      for (const r of byGroup.get(needed[i] as number) ?? []) map.set(stateKey(r.type, r.state_key), r.event_id);
    }
    this.full.set(group, map);
    // `needed` runs from the group down to the snapshot, or down to just above the cached ancestor.
    const baseDepth = baseGroup === undefined ? undefined : this.depths.get(baseGroup);
    if (baseGroup === undefined) this.depths.set(group, needed.length - 1);
    else if (baseDepth !== undefined) this.depths.set(group, needed.length + baseDepth);
    return map;
  }

  /** One recursive query over all the groups' chains, keeping only the filtered entries. */
  private async groupsStateFiltered(groups: readonly number[], filter: StateFilter, db: Db): Promise<Map<number, Map<StateKey, string>>> {
    const out = new Map<number, Map<StateKey, string>>();
    if (filter.length === 0) {
      for (const g of groups) out.set(g, new Map());
      return out;
    }
    const { types, keys, wild } = splitStateFilter(filter);
    const rows = await db<{ root: number; type: string; state_key: string; event_id: string }[]>`
      WITH RECURSIVE chain(root, sg, hop) AS (
        SELECT g, g, 0 FROM unnest(${groups as number[]}::bigint[]) AS g
        UNION ALL
        SELECT c.root, e.prev_state_group, c.hop + 1
        FROM chain c JOIN state_group_edges e ON e.state_group = c.sg
      )
      SELECT DISTINCT ON (c.root, s.type, s.state_key) c.root, s.type, s.state_key, s.event_id
      FROM chain c JOIN state_groups_state s ON s.state_group = c.sg
      WHERE (s.type, s.state_key) IN (SELECT * FROM unnest(${types}::text[], ${keys}::text[]))
         OR s.type = ANY(${wild}::text[])
      ORDER BY c.root, s.type, s.state_key, c.hop`;
    for (const r of rows) {
      const g = Number(r.root);
      let m = out.get(g);
      if (!m) out.set(g, (m = new Map()));
      m.set(stateKey(r.type, r.state_key), r.event_id);
    }
    return out;
  }
}
