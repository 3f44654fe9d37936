/**
 * Test double for "the database": every writer's rows with their positions, a fetchRows over them that
 * can be slowed down or made to fail, and a record of the calls.
 */
import type { StreamRow } from '../src/commands.ts';
import type { FetchRows, RowBatch } from '../src/stream-follower.ts';

export interface StoredRow {
  readonly writer: string;
  readonly pos: number;
  readonly row: StreamRow;
}

export class FakeStreamSource {
  readonly rows: StoredRow[] = [];
  readonly calls: [writer: string, from: number, to: number][] = [];
  delayMs: (() => number) | number = 0;
  failNext = 0;

  add(writer: string, pos: number, extra: Record<string, string | number> = {}): StreamRow {
    const row: StreamRow = { writer, pos, ...extra };
    this.rows.push({ writer, pos, row });
    return row;
  }

  rowsOf(writer: string, fromExclusive: number, toInclusive: number): StreamRow[] {
    return this.rows
      .filter((r) => r.writer === writer && r.pos > fromExclusive && r.pos <= toInclusive)
      .sort((a, b) => a.pos - b.pos)
      .map((r) => r.row);
  }

  readonly fetchRows: FetchRows = async (_stream, writer, from, to) => {
    this.calls.push([writer, from, to]);
    const delay = typeof this.delayMs === 'function' ? this.delayMs() : this.delayMs;
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    else await Promise.resolve();
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('database unavailable');
    }
    return this.rowsOf(writer, from, to);
  };
}

/** Collects applied rows and checks the invariants: exactly once, in position order per writer. */
export class AppliedLog {
  readonly batches: RowBatch[] = [];

  readonly handler = (batch: RowBatch): void => {
    this.batches.push(batch);
  };

  positions(writer: string): number[] {
    return this.batches.filter((b) => b.writer === writer).flatMap((b) => b.rows.map((r) => r['pos'] as number));
  }
}
