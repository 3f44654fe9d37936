/**
 * Positions on the `events` stream as SQL conditions. A token position is "everything up to `min`, plus
 * each listed writer up to its own position" (multi-writer streams, see core/stream-token.ts); a row is
 * inside it when its stream ID is at or below the position of the writer that wrote it. Writers are
 * named by instance ID in tokens and by instance name in rows, so IDs are resolved through the
 * `instances` table (cached; IDs never change).
 */
import type { MultiWriterPosition } from '@hs/core';
import { errors, maxPosition } from '@hs/core';
import type { Sql } from '@hs/storage';

/** A position with its writers named as rows name them. */
export interface ResolvedPosition {
  readonly min: number;
  /** Instance name → position, for writers ahead of `min`. */
  readonly ahead: ReadonlyMap<string, number>;
  readonly max: number;
}

export class InstanceNames {
  private readonly sql: Sql;
  private readonly names = new Map<number, string>();

  constructor(sql: Sql) {
    this.sql = sql;
  }

  /** Name the writers of a position; an instance ID nobody registered is a bad token (400). */
  async resolve(p: MultiWriterPosition): Promise<ResolvedPosition> {
    if (p.ahead.size === 0) return { min: p.min, ahead: new Map(), max: p.min };
    if ([...p.ahead.keys()].some((id) => !this.names.has(id))) {
      const rows = await this.sql<{ instance_id: number; instance_name: string }[]>`SELECT instance_id, instance_name FROM instances`;
      for (const r of rows) this.names.set(Number(r.instance_id), r.instance_name);
    }
    const ahead = new Map<string, number>();
    for (const [id, pos] of p.ahead) {
      const name = this.names.get(id);
      if (name === undefined) throw errors.invalidParam(`Unknown stream writer ${id} in token`);
      ahead.set(name, pos);
    }
    return { min: p.min, ahead, max: maxPosition(p) };
  }
}

export function plainPosition(n: number): ResolvedPosition {
  return { min: n, ahead: new Map(), max: n };
}

/** Whether a row (stream ID, writer) is inside the position. */
export function within(p: ResolvedPosition, stream: number, instance: string): boolean {
  return stream <= (p.ahead.get(instance) ?? p.min);
}

/** SQL: the row is inside `p` (`col <= p` for its writer). Column names are trusted constants. */
export function sqlWithin(sql: Sql, p: ResolvedPosition, streamCol: string, instanceCol: string) {
  if (p.ahead.size === 0) return sql`${sql(streamCol)} <= ${p.min}`;
  const names = [...p.ahead.keys()];
  const pos = [...p.ahead.values()];
  return sql`(${sql(streamCol)} <= ${p.max} AND ${sql(streamCol)} <= COALESCE(
    (SELECT w.p FROM unnest(${names}::text[], ${pos}::bigint[]) AS w(n, p) WHERE w.n = ${sql(instanceCol)}), ${p.min}))`;
}

/** SQL: the row is after `p` (not inside it). */
export function sqlAfter(sql: Sql, p: ResolvedPosition, streamCol: string, instanceCol: string) {
  if (p.ahead.size === 0) return sql`${sql(streamCol)} > ${p.min}`;
  const names = [...p.ahead.keys()];
  const pos = [...p.ahead.values()];
  return sql`(${sql(streamCol)} > ${p.min} AND ${sql(streamCol)} > COALESCE(
    (SELECT w.p FROM unnest(${names}::text[], ${pos}::bigint[]) AS w(n, p) WHERE w.n = ${sql(instanceCol)}), ${p.min}))`;
}
