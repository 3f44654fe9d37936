/**
 * A worker's copy of the typing writer's state, from which it serves the typing part of /sync (as a
 * Synapse worker does). It follows the writer's RDATA/POSITION commands for the `typing` stream:
 *   - rows of the current epoch right after our position are applied as they come;
 *   - a gap (`prev` ahead of us, a POSITION beyond us), a row of another epoch, or a position below
 *     ours (the writer restarted, its serials began again at 0) sends us to the writer's `typing_rows`,
 *     which answers the missing rows, or its whole state when we must start over.
 * All work runs in one queue, so rows apply once and in order while a fetch is under way; failed
 * fetches are retried with backoff, holding the queue (skipping ahead would lose changes).
 * Expiry needs no timers here: the writer times typing out and sends the change like any other.
 */
import type { Logger, NotifyFn } from '@hs/core';
import { silentLogger } from '@hs/core';
import type { ReplicationBus, ReplicationCaller, ReplicationCommand } from '@hs/replication';
import { systemClock, type Clock } from './timer-wheel.ts';
import { fetchTypingRows, parseTypingRow, type TypingRow, type TypingRowsAnswer } from './typing-replication.ts';
import { TypingRooms, type TypingReader } from './typing-rooms.ts';
import { FORGET_TYPING_AFTER_MS } from './typing-state.ts';

const STREAM = 'typing';

export interface TypingMirrorOptions {
  /** Reaches the typing writer (a ReplicationClient). */
  readonly client: ReplicationCaller;
  /** The typing writer's instance name (`stream_writers.typing`). */
  readonly instance: string;
  /** Wakes this process's /sync long-polls when typing changes. */
  readonly notify: NotifyFn;
  readonly log?: Logger;
  readonly clock?: Clock;
  /** Backoff between failed fetches (default 100 ms doubling to 10 s). */
  readonly retry?: { initialDelayMs?: number; maxDelayMs?: number };
  /** How long `waitFor` waits for the bus before fetching (default 1 s). */
  readonly catchUpAfterMs?: number;
}

class MirrorStopped extends Error {}

type LiveRow = NonNullable<ReturnType<typeof parseTypingRow>>;

interface Waiter {
  readonly position: number;
  readonly settle: (reached: boolean) => void;
}

export class TypingMirror implements TypingReader {
  private readonly opts: TypingMirrorOptions;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly rooms = new TypingRooms();
  private serial = 0;
  private writerEpoch: string | null = null;
  private tail: Promise<void> = Promise.resolve();
  private readonly waiters = new Set<Waiter>();
  private readonly sleepers = new Set<() => void>();
  private lastForget: number;
  private stopped = false;

  constructor(opts: TypingMirrorOptions) {
    this.opts = opts;
    this.log = opts.log ?? silentLogger;
    this.clock = opts.clock ?? systemClock;
    this.lastForget = this.clock();
  }

  /** The writer's serial as applied here. */
  get position(): number {
    return this.serial;
  }

  /** The writer run we follow; null until the first sync with it. */
  get epoch(): string | null {
    return this.writerEpoch;
  }

  /** Loads the writer's whole state; resolves once done (retrying while the writer is away). */
  start(): Promise<void> {
    return this.enqueue(() => this.catchUp());
  }

  /** Follows `bus`; returns the unsubscribe function. */
  attach(bus: ReplicationBus): () => void {
    return bus.onCommand((cmd) => this.handleCommand(cmd));
  }

  /** Takes the typing writer's RDATA and POSITION; ignores everything else. Never throws. */
  handleCommand(cmd: ReplicationCommand): void {
    if (this.stopped || (cmd.type !== 'RDATA' && cmd.type !== 'POSITION') || cmd.stream !== STREAM || cmd.instance !== this.opts.instance) return;
    if (cmd.type === 'POSITION') {
      const { prevToken, newToken } = cmd;
      void this.enqueue(() => this.onPosition(prevToken, newToken)).catch(() => {});
      return;
    }
    const rows: LiveRow[] = [];
    for (const r of cmd.rows) {
      const parsed = parseTypingRow(r);
      if (parsed) rows.push(parsed);
      else this.log.warn('typing mirror: ignoring a malformed row', { token: cmd.token });
    }
    const { prev, token } = cmd;
    void this.enqueue(() => this.onRows(prev, token, rows)).catch(() => {});
  }

  /** Asks the writer for anything missed (e.g. after the bus reconnected). */
  resync(): Promise<void> {
    return this.enqueue(() => this.catchUp());
  }

  /**
   * Resolves true once the mirror reached `position`, false after `timeoutMs`. If the bus has not
   * brought it there after `catchUpAfterMs`, asks the writer (the announcement may have been lost).
   */
  waitFor(position: number, timeoutMs = 10_000): Promise<boolean> {
    if (this.serial >= position) return Promise.resolve(true);
    if (this.stopped) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const timers: NodeJS.Timeout[] = [];
      const waiter: Waiter = {
        position,
        settle: (reached) => {
          this.waiters.delete(waiter);
          for (const t of timers) clearTimeout(t);
          resolve(reached);
        },
      };
      this.waiters.add(waiter);
      timers.push(setTimeout(() => waiter.settle(false), timeoutMs));
      const catchUpAfter = this.opts.catchUpAfterMs ?? 1000;
      if (catchUpAfter < timeoutMs) {
        timers.push(setTimeout(() => void this.enqueue(() => (this.serial >= position ? Promise.resolve() : this.catchUp())).catch(() => {}), catchUpAfter));
      }
    });
  }

  getTypingUpdates(fromPos: number, toPos: number = this.serial, roomIds?: Iterable<string>): Map<string, string[]> {
    return this.rooms.updates(fromPos, toPos, roomIds);
  }

  getRoomsTyping(roomIds: Iterable<string>): Map<string, string[]> {
    return this.rooms.typing(roomIds);
  }

  isTyping(roomId: string, userId: string): boolean {
    return this.rooms.isTyping(roomId, userId);
  }

  stop(): void {
    this.stopped = true;
    for (const wake of [...this.sleepers]) wake();
    for (const w of [...this.waiters]) w.settle(false);
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    const run = this.tail.then(async () => {
      if (this.stopped) throw new MirrorStopped('typing mirror stopped');
      await work();
    });
    this.tail = run.catch((e: unknown) => {
      if (!(e instanceof MirrorStopped)) this.log.error('typing mirror: step failed', { error: String(e) });
    });
    return run;
  }

  private async onRows(prev: number, token: number, rows: readonly LiveRow[]): Promise<void> {
    const foreign = () => rows.some((r) => r.epoch !== undefined && r.epoch !== this.writerEpoch);
    // Behind us without an epoch to tell a duplicate from a restart: ask the writer.
    const maybeRestarted = token < this.serial && rows.every((r) => r.epoch === undefined);
    if (foreign() || maybeRestarted || prev > this.serial) await this.catchUp();
    // The fetch covers the batch, unless it still belongs to another run of the writer.
    if (token <= this.serial || foreign()) return;
    this.apply(rows.map((r) => r.row).filter((r) => r.id > this.serial), token);
  }

  private async onPosition(prev: number, next: number): Promise<void> {
    // Below us: the writer restarted (or a stale announcement); beyond us with rows in between: missed.
    if (next < this.serial || (next > this.serial && prev > this.serial)) await this.catchUp();
    else if (next > this.serial) this.apply([], next);
  }

  /** Fetches from the writer until it answers, then applies the answer. */
  private async catchUp(): Promise<void> {
    let delay = this.opts.retry?.initialDelayMs ?? 100;
    const maxDelay = this.opts.retry?.maxDelayMs ?? 10_000;
    for (;;) {
      if (this.stopped) throw new MirrorStopped('typing mirror stopped');
      let answer: TypingRowsAnswer;
      try {
        answer = await fetchTypingRows(this.opts.client, this.opts.instance, this.serial, this.writerEpoch);
      } catch (e) {
        this.log.warn('typing mirror: could not fetch rows from the writer, retrying', { instance: this.opts.instance, error: String(e) });
        await this.sleep(delay);
        delay = Math.min(delay * 2, maxDelay);
        continue;
      }
      if (answer.full) this.replace(answer);
      else if (answer.position >= this.serial) this.apply(answer.rows.filter((r) => r.id > this.serial), answer.position);
      return;
    }
  }

  private apply(rows: readonly TypingRow[], token: number): void {
    const now = this.clock();
    for (const row of rows) this.rooms.set(row.room_id, row.user_ids, row.id, now);
    this.advance(token, rows.map((r) => r.room_id), now);
  }

  /** Starts over from the writer's whole state (a new epoch, or too far behind to merge). */
  private replace(answer: TypingRowsAnswer): void {
    const now = this.clock();
    if (this.writerEpoch !== null && this.writerEpoch !== answer.epoch) {
      this.log.info('typing writer restarted; resynchronised', { from: this.serial, to: answer.position });
    }
    const touched = new Set(this.rooms.activeRoomIds());
    this.rooms.clear();
    for (const row of answer.rows) {
      this.rooms.set(row.room_id, row.user_ids, row.id, now);
      touched.add(row.room_id);
    }
    this.writerEpoch = answer.epoch;
    this.serial = answer.position;
    this.advance(answer.position, [...touched], now, true);
  }

  private advance(token: number, rooms: string[], now: number, force = false): void {
    const moved = token !== this.serial || force;
    this.serial = token;
    if (now - this.lastForget >= FORGET_TYPING_AFTER_MS) {
      this.lastForget = now;
      this.rooms.forgetIdle(now, FORGET_TYPING_AFTER_MS);
    }
    if (moved && rooms.length > 0) this.opts.notify({ stream: STREAM, position: token, rooms: [...new Set(rooms)] });
    for (const w of [...this.waiters]) if (w.position <= this.serial) w.settle(true);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }
}
