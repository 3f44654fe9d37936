/**
 * The writer's side of replication. After rows commit, the writer announces them as one RDATA per
 * advance of its position, carrying `prev` (its previously announced position) so a follower spots a
 * lost announcement at once; when its position moves without rows of its own (other writers of a
 * shared sequence, rolled-back IDs) it sends POSITION instead. It answers REPLICATE, and every
 * (re)connection of the bus, with a POSITION per stream it writes.
 *
 * POSITION's `prev` is the last position at which this writer announced rows (at start: its start
 * position, since rows committed before a crash may never have been announced), so followers at or
 * past it can skip the fetch.
 */
import type { Logger } from '@hs/core';
import { silentLogger } from '@hs/core';
import type { ReplicationBus } from './bus.ts';
import type { ReplicationCommand, StreamRow } from './commands.ts';
import type { StreamPositions } from './http-replication.ts';
import type { StreamFollower } from './stream-follower.ts';

export interface StreamPublisherOptions {
  bus: ReplicationBus;
  /** Defaults to the bus's instance name. */
  instanceName?: string;
  /**
   * This process's own follower: our commands reach it directly, so local readers see our writes
   * without the bus round trip and while the bus is down. (The bus copy then arrives as a duplicate.)
   */
  localFollower?: StreamFollower;
  logger?: Logger;
}

interface PublishedStream {
  /** Last position announced (RDATA token or POSITION new). */
  announced: number;
  /** Last position at which rows were announced; no rows of ours lie in (lastRows, announced]. */
  lastRows: number;
  /** Committed rows waiting for the position to reach their ID, ascending by ID. */
  staged: { id: number; rows: StreamRow[] }[];
  /** The highest ID whose rows may exist without having been staged (an ambiguous commit). */
  uncertain: number;
}

export class StreamPublisher {
  readonly instanceName: string;
  private readonly bus: ReplicationBus;
  private readonly localFollower: StreamFollower | undefined;
  private readonly log: Logger;
  private readonly streams = new Map<string, PublishedStream>();
  private unsubscribe: (() => void)[] = [];

  constructor(options: StreamPublisherOptions) {
    this.bus = options.bus;
    this.instanceName = options.instanceName ?? options.bus.instanceName;
    this.localFollower = options.localFollower;
    this.log = options.logger ?? silentLogger;
  }

  /** Declares a stream this process writes, at its current (persisted) position. */
  addStream(stream: string, position: number): void {
    if (this.streams.has(stream)) throw new Error(`stream ${stream} is already published`);
    if (!Number.isSafeInteger(position) || position < 0) throw new RangeError(`invalid position ${position}`);
    this.streams.set(stream, { announced: position, lastRows: position, staged: [], uncertain: 0 });
    if (this.unsubscribe.length > 0) this.announce(stream);
  }

  /** Starts answering REPLICATE and announces every stream's position (followers learn we restarted). */
  start(): void {
    if (this.unsubscribe.length > 0) return;
    this.unsubscribe = [
      this.bus.onCommand((cmd) => {
        if (cmd.type === 'REPLICATE') this.announceAll();
      }),
      this.bus.onConnectionChange((up) => {
        if (up) this.announceAll();
      }),
    ];
    this.announceAll();
  }

  stop(): void {
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
  }

  /** The position last announced for `stream`. */
  position(stream: string): number {
    return this.stream(stream).announced;
  }

  /** Every stream this process writes, with its announced position (for HTTP replication callers). */
  positions(): Map<string, number> {
    return new Map([...this.streams].map(([name, s]) => [name, s.announced]));
  }

  /** The same as the positions HTTP replication callers send: `{stream: {ourInstance: position}}`. */
  replicationPositions(): StreamPositions {
    const out: Record<string, Record<string, number>> = {};
    for (const [name, s] of this.streams) out[name] = { [this.instanceName]: s.announced };
    return out;
  }

  /**
   * Announces `rows`: all of this writer's rows in (previous position, token], already committed.
   * Tokens must increase. Without rows this is an `advance`.
   */
  publish(stream: string, token: number, rows: readonly StreamRow[]): void {
    const s = this.stream(stream);
    if (!Number.isSafeInteger(token) || token <= s.announced) {
      this.log.error('replication: publish at a position not ahead of the last one', {
        stream,
        token,
        announced: s.announced,
      });
      return;
    }
    if (rows.length === 0) {
      this.advance(stream, token);
      return;
    }
    const cmd: ReplicationCommand = { type: 'RDATA', stream, instance: this.instanceName, token, prev: s.announced, rows };
    s.announced = token;
    s.lastRows = token;
    this.emit(cmd);
  }

  /**
   * Records rows committed at stream ID `id`, to go out once our position reaches `id` (IDs commit out
   * of order; the position only passes an ID when everything below it has finished). Call it after the
   * commit and before the ID is marked finished.
   */
  stage(stream: string, id: number, rows: readonly StreamRow[]): void {
    const s = this.stream(stream);
    if (id <= s.announced) {
      // Followers already moved past `id`: announcing it now would break the (prev, token] contract.
      this.log.error('replication: rows staged below the announced position are not announced', {
        stream,
        id,
        announced: s.announced,
      });
      return;
    }
    const entry = { id, rows: [...rows] };
    let i = s.staged.length;
    while (i > 0 && s.staged[i - 1]!.id > id) i--;
    s.staged.splice(i, 0, entry);
  }

  /**
   * Rows at `id` may have been committed without being staged (the transaction's outcome is unknown).
   * When the position passes it, followers are told to read the range from the source instead.
   */
  uncertain(stream: string, id: number): void {
    const s = this.stream(stream);
    if (id > s.announced && id > s.uncertain) s.uncertain = id;
  }

  /** Our position on `stream` moved to `position`: announce staged rows up to it, or just the position. */
  advance(stream: string, position: number): void {
    const s = this.stream(stream);
    if (!Number.isSafeInteger(position) || position <= s.announced) return;
    if (s.uncertain > s.announced && s.uncertain <= position) {
      // We cannot say which rows exist up to here: claim rows up to `position`, so every follower
      // behind it reads (its position, position] from the source — the staged rows included.
      s.uncertain = 0;
      while (s.staged.length > 0 && s.staged[0]!.id <= position) s.staged.shift();
      s.lastRows = position;
      s.announced = position;
      this.emit({ type: 'POSITION', stream, instance: this.instanceName, prevToken: position, newToken: position });
      return;
    }
    let n = 0;
    while (n < s.staged.length && s.staged[n]!.id <= position) n++;
    if (n > 0) {
      const rows = s.staged.splice(0, n).flatMap((e) => e.rows);
      if (rows.length > 0) {
        this.publish(stream, position, rows);
        return;
      }
    }
    const prev = s.lastRows;
    s.announced = position;
    this.emit({ type: 'POSITION', stream, instance: this.instanceName, prevToken: prev, newToken: position });
  }

  private announceAll(): void {
    for (const stream of this.streams.keys()) this.announce(stream);
  }

  private announce(stream: string): void {
    const s = this.stream(stream);
    this.emit({ type: 'POSITION', stream, instance: this.instanceName, prevToken: s.lastRows, newToken: s.announced });
  }

  private emit(cmd: ReplicationCommand): void {
    this.localFollower?.handleCommand(cmd);
    this.bus.send(cmd);
  }

  private stream(stream: string): PublishedStream {
    const s = this.streams.get(stream);
    if (s === undefined) throw new Error(`stream ${stream} is not published by ${this.instanceName}`);
    return s;
  }
}
