/**
 * The reader's side of replication: for each (stream, writer) the last position applied here, and the
 * catch-up that keeps it exact although the bus is lossy.
 *
 * A writer announces either `RDATA token {prev, rows}` — its rows in (prev, token] — or
 * `POSITION prev new` — it moved to `new` and has written no rows after `prev`. Against our applied
 * position `a`:
 *   RDATA    token ≤ a            duplicate, ignored
 *            prev = a             apply the rows; a = token
 *            prev > a             gap: fetch (a, prev] from the source, apply, then apply the rows
 *            prev < a < token     we got ahead out of band: fetch (a, token] instead of the batch
 *   POSITION new ≤ a              nothing to do
 *            prev ≤ a < new       nothing was written in between: a = new without fetching
 *            a < prev             fetch (a, new]
 * Everything for one stream runs through one queue, so rows are applied exactly once and in order
 * even when live commands race with catch-up. Failed fetches are retried with backoff, holding the
 * queue: skipping ahead would lose rows.
 */
import type { Logger } from '@hs/core';
import { silentLogger } from '@hs/core';
import type { Registry } from 'prom-client';
import type { ReplicationBus } from './bus.ts';
import type { PositionCommand, RdataCommand, ReplicationCommand, StreamRow } from './commands.ts';
import { replicationMetrics, type ReplicationMetrics } from './metrics.ts';

/**
 * The writer's rows in (fromExclusive, toInclusive], in position order. A source may return part of
 * the range as `{rows, upTo}` (its rows in (fromExclusive, upTo]); it is then asked for the rest.
 */
export type FetchRowsResult = readonly StreamRow[] | { rows: readonly StreamRow[]; upTo: number };
export type FetchRows = (
  stream: string,
  writer: string,
  fromExclusive: number,
  toInclusive: number,
) => Promise<FetchRowsResult>;

export interface RowBatch {
  readonly stream: string;
  readonly writer: string;
  /** Position of the writer after these rows. */
  readonly token: number;
  readonly rows: readonly StreamRow[];
  /** True when the rows came from `fetchRows` rather than from the bus. */
  readonly fetched: boolean;
}

export type RowsHandler = (batch: RowBatch) => void | Promise<void>;

export interface AdvanceEvent {
  readonly stream: string;
  readonly writer: string;
  readonly position: number;
}
export type AdvanceHandler = (event: AdvanceEvent) => void;

export interface StreamRegistration {
  stream: string;
  fetchRows: FetchRows;
  /**
   * Writers' positions at start (e.g. from `stream_positions`): everything up to them is already
   * reflected in this process. A writer first heard of later started after us, so its rows all lie
   * above the lowest of these (IDs come from the stream's shared sequence): it is caught up from there.
   * Without start positions, a new writer is followed from the position it first announces.
   */
  positions?: Iterable<[string, number]> | Readonly<Record<string, number>>;
  onRows?: RowsHandler;
}

export interface StreamFollowerOptions {
  logger?: Logger;
  registry?: Registry;
  /** Backoff between failed fetches. */
  retry?: { initialDelayMs?: number; maxDelayMs?: number };
  /**
   * How long `waitForPosition` waits for the bus before fetching on its own (the announcement may
   * have been lost). Default 1000 ms.
   */
  catchUpAfterMs?: number;
}

interface WriterState {
  applied: number;
  announced: number;
}

interface Waiter {
  readonly position: number;
  readonly settle: (reached: boolean) => void;
}

interface StreamState {
  readonly reg: StreamRegistration;
  readonly writers: Map<string, WriterState>;
  readonly handlers: Set<RowsHandler>;
  readonly waiters: Map<string, Set<Waiter>>;
  /** Where a writer first heard of after start is followed from (see StreamRegistration.positions). */
  readonly newWriterFloor: number | undefined;
  tail: Promise<void>;
  pending: number;
}

class FollowerStoppedError extends Error {
  constructor() {
    super('stream follower stopped');
    this.name = 'FollowerStoppedError';
  }
}

export class StreamFollower {
  private readonly log: Logger;
  private readonly metrics: ReplicationMetrics;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private readonly catchUpAfterMs: number;
  private readonly streams = new Map<string, StreamState>();
  private versionValue = 0;
  private readonly advanceHandlers = new Set<AdvanceHandler>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly sleepers = new Set<() => void>();
  private stopped = false;

  constructor(options: StreamFollowerOptions = {}) {
    this.log = options.logger ?? silentLogger;
    this.metrics = replicationMetrics(options.registry);
    this.retryInitialMs = options.retry?.initialDelayMs ?? 100;
    this.retryMaxMs = options.retry?.maxDelayMs ?? 10_000;
    this.catchUpAfterMs = options.catchUpAfterMs ?? 1_000;
  }

  /** Changes whenever any applied position (or the set of writers) changes: a cheap "did anything move?". */
  get version(): number {
    return this.versionValue;
  }

  registerStream(reg: StreamRegistration): void {
    if (this.streams.has(reg.stream)) throw new Error(`stream ${reg.stream} is already registered`);
    this.versionValue++;
    const writers = new Map<string, WriterState>();
    const initial = reg.positions === undefined ? [] : isIterable(reg.positions) ? reg.positions : Object.entries(reg.positions);
    for (const [writer, pos] of initial) {
      if (!Number.isSafeInteger(pos) || pos < 0) throw new RangeError(`invalid start position ${pos} for ${reg.stream}/${writer}`);
      writers.set(writer, { applied: pos, announced: pos });
      this.metrics.streamPosition.set({ stream: reg.stream, writer }, pos);
      this.metrics.streamLag.set({ stream: reg.stream, writer }, 0);
    }
    const handlers = new Set<RowsHandler>();
    if (reg.onRows) handlers.add(reg.onRows);
    let newWriterFloor: number | undefined;
    for (const w of writers.values()) if (newWriterFloor === undefined || w.applied < newWriterFloor) newWriterFloor = w.applied;
    this.streams.set(reg.stream, {
      reg,
      writers,
      handlers,
      waiters: new Map(),
      newWriterFloor,
      tail: Promise.resolve(),
      pending: 0,
    });
  }

  isFollowing(stream: string): boolean {
    return this.streams.has(stream);
  }

  /** Row handlers run in order, one batch at a time, before the position advances. */
  onRows(stream: string, handler: RowsHandler): () => void {
    const s = this.state(stream);
    s.handlers.add(handler);
    return () => s.handlers.delete(handler);
  }

  /** Called after every advance of any (stream, writer); the notifier wakes long-polls with it. */
  onAdvance(handler: AdvanceHandler): () => void {
    this.advanceHandlers.add(handler);
    return () => this.advanceHandlers.delete(handler);
  }

  /** Feeds the follower from `bus`; returns the unsubscribe function. */
  attach(bus: ReplicationBus): () => void {
    return bus.onCommand((cmd) => this.handleCommand(cmd));
  }

  /** Takes RDATA and POSITION for registered streams; ignores everything else. Never throws. */
  handleCommand(cmd: ReplicationCommand): void {
    if (this.stopped || (cmd.type !== 'RDATA' && cmd.type !== 'POSITION')) return;
    const s = this.streams.get(cmd.stream);
    if (s === undefined) return;
    const w = s.writers.get(cmd.instance);
    if (w !== undefined) this.noteAnnounced(cmd.stream, cmd.instance, w, cmd.type === 'RDATA' ? cmd.token : cmd.newToken);
    void this.enqueue(s, () => (cmd.type === 'RDATA' ? this.applyRdata(s, cmd) : this.applyPosition(s, cmd)));
  }

  /**
   * Makes sure everything `writer` wrote up to `position` is applied, fetching it if needed. For hints
   * from outside the bus, e.g. an HTTP replication caller's positions. `position` must be one the
   * writer has reached (everything at or below it committed): we move there for good.
   */
  catchUp(stream: string, writer: string, position: number): Promise<void> {
    const s = this.state(stream);
    return this.enqueue(s, async () => {
      const w = this.writerState(s, writer, position);
      this.noteAnnounced(stream, writer, w, position);
      if (position > w.applied) await this.fetchUpTo(s, writer, w, position);
    });
  }

  /** The position applied for (stream, writer), or undefined if that writer is not known yet. */
  position(stream: string, writer: string): number | undefined {
    return this.streams.get(stream)?.writers.get(writer)?.applied;
  }

  /** Applied position per writer of `stream`. */
  positions(stream: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const [writer, w] of this.streams.get(stream)?.writers ?? []) out.set(writer, w.applied);
    return out;
  }

  /**
   * The stream's current token: every row at or below it is applied here, whichever writer wrote it
   * (the minimum over writers). Undefined while no writer is known.
   */
  currentToken(stream: string): number | undefined {
    let min: number | undefined;
    for (const w of this.streams.get(stream)?.writers.values() ?? []) if (min === undefined || w.applied < min) min = w.applied;
    return min;
  }

  /**
   * Resolves true once (stream, writer) has reached `position`, false after `timeoutMs`. If the bus has
   * not brought it there after `catchUpAfterMs`, fetches it: the announcement may have been lost.
   */
  waitForPosition(stream: string, writer: string, position: number, timeoutMs: number): Promise<boolean> {
    const s = this.state(stream);
    const applied = s.writers.get(writer)?.applied;
    if (applied !== undefined && applied >= position) return Promise.resolve(true);
    if (this.stopped) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      let set = s.waiters.get(writer);
      if (set === undefined) s.waiters.set(writer, (set = new Set()));
      const waiters = set;
      const timers: NodeJS.Timeout[] = [];
      const waiter: Waiter = {
        position,
        settle: (reached) => {
          waiters.delete(waiter);
          for (const t of timers) this.clearTimer(t);
          resolve(reached);
        },
      };
      waiters.add(waiter);
      timers.push(this.timer(timeoutMs, () => waiter.settle(false)));
      if (this.catchUpAfterMs < timeoutMs) {
        timers.push(
          this.timer(this.catchUpAfterMs, () => {
            this.log.info('replication: position not announced in time, fetching', { stream, writer, position });
            void this.catchUp(stream, writer, position);
          }),
        );
      }
    });
  }

  /** Resolves when every queued command and catch-up has been processed (for tests and shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      const busy = [...this.streams.values()].filter((s) => s.pending > 0);
      if (busy.length === 0) return;
      await Promise.all(busy.map((s) => s.tail));
    }
  }

  /** Stops processing: queued work is dropped, fetch retries end, waiters resolve false. */
  stop(): void {
    this.stopped = true;
    for (const wake of [...this.sleepers]) wake();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.streams.values()) for (const set of s.waiters.values()) for (const w of [...set]) w.settle(false);
  }

  private state(stream: string): StreamState {
    const s = this.streams.get(stream);
    if (s === undefined) throw new Error(`stream ${stream} is not registered with this follower`);
    return s;
  }

  /** Runs `task` after everything queued before it on the stream; the result never rejects. */
  private enqueue(s: StreamState, task: () => Promise<void>): Promise<void> {
    s.pending++;
    s.tail = s.tail
      .then(() => {
        if (this.stopped) throw new FollowerStoppedError();
        return task();
      })
      .then(
        () => {
          s.pending--;
        },
        (e: unknown) => {
          s.pending--;
          if (!(e instanceof FollowerStoppedError)) {
            this.log.error('replication: stream processing failed', { stream: s.reg.stream, error: String(e) });
          }
        },
      );
    return s.tail;
  }

  /** The writer's state; a writer heard of for the first time starts at the floor, else at `announced`. */
  private writerState(s: StreamState, writer: string, announced: number): WriterState {
    let w = s.writers.get(writer);
    if (w === undefined) {
      const startAt = Math.min(s.newWriterFloor ?? announced, announced);
      w = { applied: startAt, announced };
      s.writers.set(writer, w);
      this.log.info('replication: following new writer', { stream: s.reg.stream, writer, position: startAt });
      this.advanced(s, writer, w, startAt);
    }
    return w;
  }

  private async applyRdata(s: StreamState, cmd: RdataCommand): Promise<void> {
    const w = this.writerState(s, cmd.instance, cmd.prev);
    this.noteAnnounced(cmd.stream, cmd.instance, w, cmd.token);
    if (cmd.token <= w.applied) return;
    if (cmd.prev < w.applied) {
      // Part of this batch is already applied and we cannot tell rows apart: take the rest from the source.
      await this.fetchUpTo(s, cmd.instance, w, cmd.token);
      return;
    }
    if (cmd.prev > w.applied) {
      this.log.info('replication: gap detected, fetching', {
        stream: cmd.stream,
        writer: cmd.instance,
        from: w.applied,
        to: cmd.prev,
      });
      await this.fetchUpTo(s, cmd.instance, w, cmd.prev);
    }
    await this.deliver(s, cmd.instance, cmd.token, cmd.rows, false);
    this.advanced(s, cmd.instance, w, cmd.token);
  }

  private async applyPosition(s: StreamState, cmd: PositionCommand): Promise<void> {
    const w = this.writerState(s, cmd.instance, cmd.newToken);
    this.noteAnnounced(cmd.stream, cmd.instance, w, cmd.newToken);
    if (cmd.newToken <= w.applied) return;
    if (w.applied >= cmd.prevToken) {
      this.advanced(s, cmd.instance, w, cmd.newToken);
      return;
    }
    await this.fetchUpTo(s, cmd.instance, w, cmd.newToken);
  }

  /** Fetches and applies the writer's rows in (applied, target], page by page. */
  private async fetchUpTo(s: StreamState, writer: string, w: WriterState, target: number): Promise<void> {
    while (w.applied < target) {
      const from = w.applied;
      const result = await this.fetchWithRetry(s, writer, from, target);
      const rows = isRowArray(result) ? result : result.rows;
      const upTo = isRowArray(result) ? target : result.upTo;
      if (!Number.isSafeInteger(upTo) || upTo <= from || upTo > target) {
        throw new Error(`fetchRows for ${s.reg.stream}/${writer} returned upTo ${upTo} outside (${from}, ${target}]`);
      }
      await this.deliver(s, writer, upTo, rows, true);
      this.advanced(s, writer, w, upTo);
    }
  }

  private async fetchWithRetry(s: StreamState, writer: string, from: number, to: number): Promise<FetchRowsResult> {
    const stream = s.reg.stream;
    let delay = this.retryInitialMs;
    for (let attempt = 1; ; attempt++) {
      if (this.stopped) throw new FollowerStoppedError();
      this.metrics.catchUpFetches.inc({ stream });
      try {
        return await s.reg.fetchRows(stream, writer, from, to);
      } catch (e) {
        this.metrics.catchUpFailures.inc({ stream });
        const log = attempt === 1 ? this.log.warn : this.log.debug;
        log.call(this.log, 'replication: fetching missed rows failed, retrying', {
          stream,
          writer,
          from,
          to,
          attempt,
          error: String(e),
        });
        await this.sleep(delay);
        delay = Math.min(delay * 2, this.retryMaxMs);
      }
    }
  }

  private async deliver(s: StreamState, writer: string, token: number, rows: readonly StreamRow[], fetched: boolean): Promise<void> {
    if (rows.length === 0) return;
    const batch: RowBatch = { stream: s.reg.stream, writer, token, rows, fetched };
    for (const h of s.handlers) {
      try {
        await h(batch);
      } catch (e) {
        // A failing handler is a bug in that consumer; the rows still count as applied so the others move on.
        this.log.error('replication: row handler failed', { stream: s.reg.stream, writer, token, error: String(e) });
      }
    }
  }

  private advanced(s: StreamState, writer: string, w: WriterState, position: number): void {
    w.applied = position;
    this.versionValue++;
    const stream = s.reg.stream;
    this.metrics.streamPosition.set({ stream, writer }, position);
    this.metrics.streamLag.set({ stream, writer }, Math.max(0, w.announced - position));
    const waiters = s.waiters.get(writer);
    if (waiters) for (const waiter of [...waiters]) if (waiter.position <= position) waiter.settle(true);
    for (const h of this.advanceHandlers) {
      try {
        h({ stream, writer, position });
      } catch (e) {
        this.log.error('replication: advance handler failed', { stream, writer, error: String(e) });
      }
    }
  }

  private noteAnnounced(stream: string, writer: string, w: WriterState, position: number): void {
    if (position <= w.announced) return;
    w.announced = position;
    this.metrics.streamLag.set({ stream, writer }, Math.max(0, position - w.applied));
  }

  private timer(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    return t;
  }

  /** A pause that `stop()` cuts short. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        this.sleepers.delete(wake);
        this.clearTimer(t);
        resolve();
      };
      const t = this.timer(ms, wake);
      this.sleepers.add(wake);
    });
  }

  private clearTimer(t: NodeJS.Timeout): void {
    clearTimeout(t);
    this.timers.delete(t);
  }
}

function isIterable(value: object): value is Iterable<[string, number]> {
  return Symbol.iterator in value;
}

function isRowArray(result: FetchRowsResult): result is readonly StreamRow[] {
  return Array.isArray(result);
}
