/**
 * The `typing` stream's writer. Typing is never persisted (as in Synapse): the writer process keeps,
 * per room, who is typing and until when, plus a serial that increases by one on every change. Each
 * room remembers the serial of its last change, so a reader with a token position asks "which rooms
 * changed in (from, to]" and gets their current typing sets. Other processes keep a `TypingMirror`
 * fed with the writer's rows (`typing-replication.ts`). A restarted writer starts again from serial 0
 * under a new `epoch`, which tells mirrors to resynchronise.
 */
import { randomBytes } from 'node:crypto';
import type { Logger, NotifyFn } from '@hs/core';
import { silentLogger } from '@hs/core';
import { TimerWheel, systemClock, type Clock } from './timer-wheel.ts';
import type { TypingChangeRow, TypingRow } from './typing-replication.ts';
import { TypingRooms, type TypingReader } from './typing-rooms.ts';

/** Synapse's default and cap for a client's typing timeout. */
export const DEFAULT_TYPING_TIMEOUT_MS = 30_000;
export const MAX_TYPING_TIMEOUT_MS = 120_000;
/** A remote server's typing notice lasts this long unless renewed (Synapse's FEDERATION_TIMEOUT). */
export const REMOTE_TYPING_TIMEOUT_MS = 60_000;
/** Rooms without a change for this long are forgotten (the mirror forgets them the same way). */
export const FORGET_TYPING_AFTER_MS = 10 * 60_000;

/**
 * Typing writes as the typing endpoint makes them: the writer's `TypingState`, or on other processes
 * a `ReplicatedTypingWriter`. Both answer the typing stream position after the change.
 */
export interface TypingWriter {
  /** `userId` is typing in `roomId` for `timeoutMs` from now (renewing an earlier notice). */
  start(roomId: string, userId: string, timeoutMs: number): number | Promise<number>;
  /** `userId` stopped typing; a no-op when they were not typing. */
  stop(roomId: string, userId: string): number | Promise<number>;
}

export interface TypingStateOptions {
  notify: NotifyFn;
  clock?: Clock;
  log?: Logger;
  /** Timer wheel granularity and tick period; default 5 s. */
  tickMs?: number;
  /** Start the periodic tick (default true); tests drive `tick()` by hand with an injected clock. */
  autoTick?: boolean;
  /**
   * Called with each change's replication row (carrying `epoch`) just before `notify`; the process
   * publishes it to the other processes' mirrors.
   */
  onRow?: (row: TypingChangeRow) => void;
}

const key = (roomId: string, userId: string) => `${roomId}\u0000${userId}`;

export class TypingState implements TypingWriter, TypingReader {
  /** Names this run of the writer: serials restart from 0 with a new epoch. */
  readonly epoch: string = randomBytes(8).toString('hex');
  private readonly notify: NotifyFn;
  private readonly onRow: ((row: TypingChangeRow) => void) | undefined;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly rooms = new TypingRooms();
  /** (room, user) → time typing ends. */
  private readonly until = new Map<string, number>();
  private readonly wheel: TimerWheel<string>;
  private serial = 0;
  private forgotten = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastForget: number;

  constructor(opts: TypingStateOptions) {
    this.notify = opts.notify;
    this.onRow = opts.onRow;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silentLogger;
    const tickMs = opts.tickMs ?? 5000;
    this.wheel = new TimerWheel(tickMs);
    this.lastForget = this.clock();
    if (opts.autoTick !== false) {
      this.timer = setInterval(() => this.tick(), tickMs);
      this.timer.unref();
    }
  }

  /** The stream position: the serial of the latest change. */
  get position(): number {
    return this.serial;
  }

  /**
   * The highest serial of a forgotten room: rows since a position below it are incomplete (a room
   * may have changed there and been dropped since), so a catch-up from there must be a full resync.
   */
  get forgottenUpTo(): number {
    return this.forgotten;
  }

  start(roomId: string, userId: string, timeoutMs: number): number {
    const now = this.clock();
    const k = key(roomId, userId);
    const ends = now + Math.max(0, timeoutMs);
    this.until.set(k, ends);
    this.wheel.insert(now, k, ends);
    if (!this.rooms.isTyping(roomId, userId)) this.change(roomId, userId, true, now);
    return this.serial;
  }

  stop(roomId: string, userId: string): number {
    this.until.delete(key(roomId, userId));
    if (this.rooms.isTyping(roomId, userId)) this.change(roomId, userId, false, this.clock());
    return this.serial;
  }

  /** A typing EDU from another server: it lasts REMOTE_TYPING_TIMEOUT_MS unless renewed or stopped. */
  applyRemote(roomId: string, userId: string, typing: boolean): void {
    if (typing) this.start(roomId, userId, REMOTE_TYPING_TIMEOUT_MS);
    else this.stop(roomId, userId);
  }

  isTyping(roomId: string, userId: string): boolean {
    return this.rooms.isTyping(roomId, userId);
  }

  /** Expire typing notices that ran out, and forget long-idle rooms. Runs on the wheel's period. */
  tick(): void {
    const now = this.clock();
    for (const k of this.wheel.fetch(now)) {
      const ends = this.until.get(k);
      if (ends === undefined || ends > now) continue; // renewed or already stopped
      const sep = k.indexOf('\u0000');
      const roomId = k.slice(0, sep);
      const userId = k.slice(sep + 1);
      this.log.debug('typing timed out', { room_id: roomId, user_id: userId });
      this.stop(roomId, userId);
    }
    if (now - this.lastForget >= FORGET_TYPING_AFTER_MS) {
      this.lastForget = now;
      this.forgotten = Math.max(this.forgotten, this.rooms.forgetIdle(now, FORGET_TYPING_AFTER_MS));
    }
  }

  private change(roomId: string, userId: string, typing: boolean, now: number): void {
    this.serial += 1;
    this.rooms.change(roomId, userId, typing, this.serial, now);
    if (this.onRow) {
      const row = this.rooms.rowOf(roomId);
      if (row) this.onRow({ ...row, epoch: this.epoch });
    }
    this.notify({ stream: 'typing', position: this.serial, rooms: [roomId] });
  }

  getTypingUpdates(fromPos: number, toPos: number = this.serial, roomIds?: Iterable<string>): Map<string, string[]> {
    return this.rooms.updates(fromPos, toPos, roomIds);
  }

  getRoomsTyping(roomIds: Iterable<string>): Map<string, string[]> {
    return this.rooms.typing(roomIds);
  }

  /**
   * Replication rows for (fromPos, toPos], by serial: each room whose last change lies there, once,
   * with its current set (earlier changes of the same room are superseded). Without `epoch`.
   */
  typingRowsSince(fromPos: number, toPos: number = this.serial): TypingRow[] {
    return this.rooms.rowsSince(fromPos, toPos);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
