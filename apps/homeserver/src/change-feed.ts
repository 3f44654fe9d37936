/**
 * How a change reaches the long-polls of every process, the same way in one process or many:
 *
 *   writer commits → `announce` stages {rooms, users} under its stream ID → the stream position
 *   passes the ID → the publisher sends RDATA (to our own follower directly, to other processes over
 *   the bus) → each follower applies it in order → `onChange` listeners (the notifier) wake.
 *
 * Nobody is woken before the stream position includes the change, so a woken /sync always finds it;
 * and a follower that missed an announcement reads the rows back from Postgres before moving on.
 * Typing lives in memory on its writer and is passed straight through.
 */
import type { JsonObject, Logger, MultiWriterPosition, NotifyFn, StreamChange } from '@hs/core';
import { positionOf } from '@hs/core';
import { StreamFollower, StreamPublisher, type ReplicationBus, type RowBatch } from '@hs/replication';
import type { Registry } from 'prom-client';
import { InstanceIds, StreamWriter, type Sql } from '@hs/storage';
import { CATCH_UP_STREAMS, readStreamChanges } from '@hs/sync/stream-changes';

export interface ChangeFeedOptions {
  readonly sql: Sql;
  readonly log: Logger;
  readonly bus: ReplicationBus;
  readonly registry: Registry;
  readonly instanceName: string;
  /** Stream → its writers (from `stream_writers`; main where none is configured). */
  readonly streamWriters: Readonly<Record<string, readonly string[]>>;
  /** The streams this process writes. */
  readonly writers: ReadonlyMap<string, StreamWriter>;
}

export class ChangeFeed {
  readonly follower: StreamFollower;
  readonly publisher: StreamPublisher;
  private readonly opts: ChangeFeedOptions;
  private readonly listeners = new Set<NotifyFn>();
  private readonly rowListeners = new Set<NotifyFn>();
  private readonly invalidationListeners = new Set<(cache: string, keys: readonly string[]) => void>();
  /** Serial of this process's cache invalidations (the `caches` stream lives in memory, like typing). */
  private invalidations = 0;
  private readonly instanceIds = new Map<string, number>();
  /** Applied rows whose position has not been reached yet (row handlers run just before the advance). */
  private readonly pending = new Map<string, StreamChange[]>();
  private readonly detach: Array<() => void> = [];

  private constructor(opts: ChangeFeedOptions) {
    this.opts = opts;
    this.follower = new StreamFollower({ logger: opts.log, registry: opts.registry });
    this.publisher = new StreamPublisher({ bus: opts.bus, localFollower: this.follower, logger: opts.log });
  }

  /** Registers every persisted stream with the follower at its writers' known positions, then starts. */
  static async start(opts: ChangeFeedOptions): Promise<ChangeFeed> {
    const feed = new ChangeFeed(opts);
    await feed.init();
    return feed;
  }

  private async init(): Promise<void> {
    const { sql, writers, streamWriters } = this.opts;
    const ids = new InstanceIds(sql);
    const recorded = await sql<{ stream_name: string; instance_name: string; stream_id: number }[]>`
      SELECT stream_name, instance_name, stream_id FROM stream_positions`;
    for (const stream of CATCH_UP_STREAMS) {
      const names = streamWriters[stream] ?? ['main'];
      const positions: Array<[string, number]> = [];
      for (const name of names) {
        this.instanceIds.set(name, await ids.idFor(name));
        const own = writers.get(stream);
        if (own && own.instanceName === name) {
          positions.push([name, own.position]);
          continue;
        }
        // Another process's promise, as last recorded: a safe floor. Its POSITION answer to our
        // REPLICATE moves us up, reading back whatever it wrote in between.
        const row = recorded.find((r) => r.stream_name === stream && r.instance_name === name);
        positions.push([name, row ? Number(row.stream_id) : await sequenceValue(sql, stream)]);
      }
      this.follower.registerStream({
        stream,
        positions,
        fetchRows: async (s, writer, from, to) => {
          const slice = await readStreamChanges(sql, s, writer, from, to);
          return { rows: slice.rows.map((r): JsonObject => ({ ...r })), upTo: slice.upTo };
        },
        onRows: (batch) => this.deliver(batch),
      });
    }
    for (const [stream, writer] of writers) {
      this.publisher.addStream(stream, writer.position);
      writer.onAdvance((pos) => this.publisher.advance(stream, pos));
      writer.onUncertain((ids) => this.publisher.uncertain(stream, Math.max(...ids)));
    }
    // Wake only once the position includes the rows: a /sync woken earlier would not see them.
    this.detach.push(this.follower.onAdvance(({ stream }) => this.flush(stream)));
    this.publisher.addStream('caches', 0);
    this.detach.push(
      this.opts.bus.onCommand((cmd) => {
        if (cmd.type !== 'RDATA' || cmd.stream !== 'caches' || cmd.instance === this.opts.instanceName) return;
        for (const row of cmd.rows) {
          if (typeof row.cache !== 'string' || !Array.isArray(row.keys) || !row.keys.every((k) => typeof k === 'string')) continue;
          for (const l of this.invalidationListeners) l(row.cache, row.keys as string[]);
        }
      }),
    );
    this.detach.push(this.follower.attach(this.opts.bus));
    this.publisher.start();
  }

  /**
   * For writers: a committed change, called before its stream ID is released. Staged under the ID when
   * this process writes the stream; typing (in memory, no IDs) is delivered at once.
   */
  readonly announce: NotifyFn = (change) => {
    if (!this.opts.writers.has(change.stream)) {
      this.emit(change);
      return;
    }
    const row: JsonObject = { id: change.position };
    if (change.rooms?.length) row.rooms = [...change.rooms];
    if (change.users?.length) row.users = [...change.users];
    this.publisher.stage(change.stream, change.position, [row]);
  };

  /** Listen to every change applied here, local or replicated, in stream order, once the position includes it. */
  onChange(listener: NotifyFn): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Listen to every change as it is applied, just BEFORE the position includes it: for caches that
   * must know of a change by the time a reader's token covers it.
   */
  onApplied(listener: NotifyFn): () => void {
    this.rowListeners.add(listener);
    return () => this.rowListeners.delete(listener);
  }

  /**
   * Tell the other processes that entries of a per-process cache are stale (e.g. revoked access
   * tokens). Best effort, as in Synapse's caches stream: the caches' own expiry bounds a lost message.
   */
  invalidate(cache: string, keys: readonly string[]): void {
    this.publisher.publish('caches', ++this.invalidations, [{ cache, keys: [...keys] }]);
  }

  /** Hear of other processes' invalidations. */
  onInvalidation(listener: (cache: string, keys: readonly string[]) => void): () => void {
    this.invalidationListeners.add(listener);
    return () => this.invalidationListeners.delete(listener);
  }

  /** Changes whenever a token this feed makes could differ (a position moved, a writer became known). */
  get tokenVersion(): string {
    return `${this.follower.version}:${this.instanceIds.size}`;
  }

  /** The stream's position as this process has applied it, in token form (multi-writer aware). */
  token(stream: string): MultiWriterPosition {
    const positions = this.follower.positions(stream);
    if (positions.size === 0) return positionOf(0);
    const min = Math.min(...positions.values());
    return positionOf(
      min,
      [...positions].map(([name, pos]) => [this.instanceIds.get(name) ?? 0, pos] as [number, number]),
    );
  }

  /** The highest position applied on `stream` by any writer (for per-writer comparisons). */
  position(stream: string): number {
    return this.follower.currentToken(stream) ?? 0;
  }

  stop(): void {
    this.publisher.stop();
    for (const off of this.detach.splice(0)) off();
    this.follower.stop();
  }

  private deliver(batch: RowBatch): void {
    let list = this.pending.get(batch.stream);
    if (!list) this.pending.set(batch.stream, (list = []));
    for (const row of batch.rows) {
      const change: StreamChange = {
        stream: batch.stream,
        // The row's own stream ID when it carries one (a batch's token is its highest).
        position: typeof row.id === 'number' ? row.id : batch.token,
        ...(Array.isArray(row.rooms) ? { rooms: row.rooms as string[] } : {}),
        ...(Array.isArray(row.users) ? { users: row.users as string[] } : {}),
      };
      list.push(change);
      for (const l of this.rowListeners) {
        try {
          l(change);
        } catch (e) {
          this.opts.log.error('row listener failed', { stream: change.stream, error: String(e) });
        }
      }
    }
  }

  private flush(stream: string): void {
    const list = this.pending.get(stream);
    if (!list || list.length === 0) return;
    this.pending.delete(stream);
    for (const change of list) this.emit(change);
  }

  private emit(change: StreamChange): void {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch (e) {
        this.opts.log.error('change listener failed', { stream: change.stream, error: String(e) });
      }
    }
  }
}

async function sequenceValue(sql: Sql, stream: string): Promise<number> {
  const [row] = await sql.unsafe<{ last_value: number; is_called: boolean }[]>(`SELECT last_value, is_called FROM ${StreamWriter.sequenceName(stream)}`);
  return row?.is_called ? Number(row.last_value) : 0;
}
