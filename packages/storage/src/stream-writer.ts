/**
 * Stream IDs for one writer of one stream (DESIGN.md §3).
 *
 * IDs come from the stream's Postgres sequence, shared by all its writers, so they interleave across
 * writers and commit out of order. A writer's *position* is the promise "I will never commit a row at
 * or below this ID that is not committed already":
 *   - with IDs in flight, it is just below the oldest one;
 *   - with none in flight, any later ID comes from nextval and exceeds everything seen so far, so it is
 *     the highest ID this process knows was allocated by anyone.
 * Readers take the minimum over writers; nothing above it is ever exposed.
 */
import type { Logger } from '@hs/core';
import type { Sql } from './database.ts';

export type AdvanceListener = (position: number) => void;
export type UncertainListener = (ids: readonly number[]) => void;

/**
 * Errors after which a transaction may or may not have committed: the connection went away (possibly
 * during COMMIT), or the server shut the session down. Anything else is a definite outcome.
 */
export function isAmbiguousOutcome(e: unknown): boolean {
  const code = String((e as { code?: unknown })?.code ?? '');
  return /^(CONNECTION_(CLOSED|ENDED|DESTROYED)|ECONNRESET|EPIPE|ETIMEDOUT|08...|57P0.)$/.test(code);
}

/** Fewer writes to `stream_positions` under load: it is a recovery aid, not on the commit path. */
const PERSIST_DELAY_MS = 200;

export class StreamWriter {
  readonly stream: string;
  readonly instanceName: string;
  private readonly sql: Sql;
  private readonly log: Logger;
  private readonly inFlight = new Set<number>();
  private oldestInFlight = Infinity;
  /** nextval requests sent but not answered: their IDs exist in Postgres but are not in `inFlight` yet. */
  private pendingAllocations = 0;
  private maxSeen: number;
  private reported: number;
  private readonly listeners = new Set<AdvanceListener>();
  private readonly uncertainListeners = new Set<UncertainListener>();
  private persistTimer: NodeJS.Timeout | undefined;
  private persisted: number;

  private constructor(sql: Sql, stream: string, instanceName: string, log: Logger, start: number, persisted: number) {
    this.sql = sql;
    this.stream = stream;
    this.instanceName = instanceName;
    this.log = log;
    this.maxSeen = start;
    this.reported = start;
    this.persisted = persisted;
  }

  static sequenceName(stream: string): string {
    if (!/^[a-z_]+$/.test(stream)) throw new Error(`invalid stream name ${stream}`);
    return `${stream}_stream_seq`;
  }

  /** Start writing: nothing is in flight yet, so our position is the sequence's current value. */
  static async open(sql: Sql, stream: string, instanceName: string, log: Logger): Promise<StreamWriter> {
    const seq = StreamWriter.sequenceName(stream);
    const [row] = await sql.unsafe<{ last_value: number; is_called: boolean }[]>(`SELECT last_value, is_called FROM ${seq}`);
    const current = row?.is_called ? Number(row.last_value) : 0;
    const [prev] = await sql<{ stream_id: number }[]>`
      SELECT stream_id FROM stream_positions WHERE stream_name = ${stream} AND instance_name = ${instanceName}`;
    const writer = new StreamWriter(sql, stream, instanceName, log, current, prev ? Number(prev.stream_id) : -1);
    writer.schedulePersist();
    return writer;
  }

  get position(): number {
    return this.reported;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  onAdvance(listener: AdvanceListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Hear of IDs whose transaction failed in a way that may have committed anyway (see
   * isAmbiguousOutcome): their rows may exist although nobody announced them.
   */
  onUncertain(listener: UncertainListener): () => void {
    this.uncertainListeners.add(listener);
    return () => this.uncertainListeners.delete(listener);
  }

  /**
   * Allocate `count` IDs; each must later be passed to `finish`, whether its transaction committed or
   * not. `db`: the connection to ask (a transaction's, so the request travels with its statements).
   */
  async allocate(count = 1, db: Sql = this.sql): Promise<number[]> {
    if (!Number.isInteger(count) || count < 1 || count > 10_000) throw new RangeError(`cannot allocate ${count} stream IDs`);
    const seq = StreamWriter.sequenceName(this.stream);
    // While the answer is on its way, another writer's advance must not move us past IDs we are about to hold.
    this.pendingAllocations++;
    try {
      // Executed now rather than when awaited: on a transaction's connection it must go out ahead of
      // statements issued after this call (a lock wait behind it would hold every reader back).
      const rows = await db
        .unsafe<{ id: number }[]>(`SELECT nextval('${seq}') AS id FROM generate_series(1, $1)`, [count])
        .execute();
      const ids = rows.map((r) => Number(r.id)).sort((a, b) => a - b);
      for (const id of ids) {
        this.inFlight.add(id);
        if (id < this.oldestInFlight) this.oldestInFlight = id;
        if (id > this.maxSeen) this.maxSeen = id;
      }
      return ids;
    } finally {
      this.pendingAllocations--;
      this.recompute();
    }
  }

  /** The IDs' transactions have ended (committed or rolled back): they no longer hold the position back. */
  finish(ids: readonly number[]): void {
    let touchedOldest = false;
    for (const id of ids) {
      if (this.inFlight.delete(id) && id === this.oldestInFlight) touchedOldest = true;
    }
    if (touchedOldest) this.oldestInFlight = this.inFlight.size === 0 ? Infinity : Math.min(...this.inFlight);
    this.recompute();
  }

  /** Allocate, run `work` (which commits the rows), then finish — also when `work` throws. */
  async withIds<T>(count: number, work: (ids: number[]) => Promise<T>): Promise<T> {
    const ids = await this.allocate(count);
    try {
      return await work(ids);
    } catch (e) {
      this.failed(ids, e);
      throw e;
    } finally {
      this.finish(ids);
    }
  }

  /**
   * The transaction holding `ids` failed with `error` (call before `finish`): when it may have
   * committed anyway, readers are told to look before the position passes the IDs.
   */
  failed(ids: readonly number[], error: unknown): void {
    if (!isAmbiguousOutcome(error)) return;
    this.log.warn('a stream write ended without a definite outcome; readers will re-read it', { stream: this.stream, ids: ids.join(','), error: String(error) });
    for (const l of this.uncertainListeners) l(ids);
  }

  /** Learn that some writer allocated up to `position` (from replication), so an idle writer can advance. */
  observe(position: number): void {
    if (position > this.maxSeen) {
      this.maxSeen = position;
      this.recompute();
    }
  }

  private recompute(): void {
    if (this.pendingAllocations > 0) return;
    const next = this.inFlight.size === 0 ? this.maxSeen : this.oldestInFlight - 1;
    if (next <= this.reported) return;
    this.reported = next;
    for (const l of this.listeners) {
      try {
        l(next);
      } catch (e) {
        this.log.error('stream advance listener failed', { stream: this.stream, error: String(e) });
      }
    }
    this.schedulePersist();
  }

  private schedulePersist(): void {
    if (this.persistTimer || this.reported <= this.persisted) return;
    this.persistTimer = setTimeout(() => {
      this.persistTimer = undefined;
      void this.flush();
    }, PERSIST_DELAY_MS);
    this.persistTimer.unref();
  }

  /** Record our position in `stream_positions` (forward-only). Called on a timer and at shutdown. */
  async flush(): Promise<void> {
    if (this.persistTimer) {
      clearTimeout(this.persistTimer);
      this.persistTimer = undefined;
    }
    const pos = this.reported;
    if (pos <= this.persisted) return;
    try {
      await this.sql`
        INSERT INTO stream_positions (stream_name, instance_name, stream_id)
        VALUES (${this.stream}, ${this.instanceName}, ${pos})
        ON CONFLICT (stream_name, instance_name)
        DO UPDATE SET stream_id = GREATEST(stream_positions.stream_id, EXCLUDED.stream_id)`;
      this.persisted = Math.max(this.persisted, pos);
    } catch (e) {
      this.log.warn('could not record stream position', { stream: this.stream, error: String(e) });
      this.schedulePersist();
    }
  }
}
