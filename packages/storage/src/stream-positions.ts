/**
 * The reader's side of multi-writer streams: the writers' positions combined into what may be exposed
 * (everything at or below the minimum is persisted) and into client tokens.
 */
import { positionOf, type MultiWriterPosition } from '@hs/core';
import type { Sql } from './database.ts';

export class StreamPositions {
  private readonly positions = new Map<string, number>();

  constructor(initial?: Iterable<[string, number]>) {
    for (const [w, p] of initial ?? []) this.positions.set(w, p);
  }

  /** Forward-only: a stale report never moves a writer back. Returns whether anything changed. */
  advance(writer: string, position: number): boolean {
    const cur = this.positions.get(writer);
    if (cur !== undefined && cur >= position) return false;
    this.positions.set(writer, position);
    return true;
  }

  get(writer: string): number | undefined {
    return this.positions.get(writer);
  }

  /** Everything at or below this is persisted by every writer. */
  persistedUpTo(): number {
    let min = Infinity;
    for (const p of this.positions.values()) if (p < min) min = p;
    return min === Infinity ? 0 : min;
  }

  /** The token form: the minimum plus writers ahead of it, keyed by their instance IDs. */
  toPosition(instanceId: (name: string) => number): MultiWriterPosition {
    const min = this.persistedUpTo();
    return positionOf(
      min,
      [...this.positions].map(([w, p]) => [instanceId(w), p] as [number, number]),
    );
  }

  static async load(sql: Sql, stream: string, writers: readonly string[]): Promise<StreamPositions> {
    const rows = await sql<{ instance_name: string; stream_id: number }[]>`
      SELECT instance_name, stream_id FROM stream_positions WHERE stream_name = ${stream}`;
    const byName = new Map(rows.map((r) => [r.instance_name, Number(r.stream_id)]));
    return new StreamPositions(writers.map((w) => [w, byName.get(w) ?? 0]));
  }
}

/** Instance name ↔ small integer, shared through Postgres so every process encodes tokens alike. */
export class InstanceIds {
  private readonly byName = new Map<string, number>();
  private readonly byId = new Map<number, string>();
  private readonly sql: Sql;

  constructor(sql: Sql) {
    this.sql = sql;
  }

  async idFor(name: string): Promise<number> {
    const known = this.byName.get(name);
    if (known !== undefined) return known;
    await this.sql`INSERT INTO instances (instance_name) VALUES (${name}) ON CONFLICT DO NOTHING`;
    await this.refresh();
    const id = this.byName.get(name);
    if (id === undefined) throw new Error(`instance ${name} has no ID`);
    return id;
  }

  /** Synchronous lookup for hot paths; `idFor`/`refresh` must have loaded the name. */
  cachedId(name: string): number {
    const id = this.byName.get(name);
    if (id === undefined) throw new Error(`instance ${name} is not known yet`);
    return id;
  }

  nameFor(id: number): string | undefined {
    return this.byId.get(id);
  }

  async refresh(): Promise<void> {
    const rows = await this.sql<{ instance_id: number; instance_name: string }[]>`SELECT instance_id, instance_name FROM instances`;
    for (const r of rows) {
      this.byName.set(r.instance_name, r.instance_id);
      this.byId.set(r.instance_id, r.instance_name);
    }
  }
}
