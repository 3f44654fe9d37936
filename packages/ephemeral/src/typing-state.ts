/**
 * The `typing` stream. Typing is never persisted (as in Synapse): the writer process keeps, per room,
 * who is typing and until when, plus a counter that increases on every change. Each room remembers
 * the counter value of its last change, so a reader with a token position asks "which rooms changed
 * in (from, to]" and gets their current typing sets. A follower process keeps the same structure
 * fed from the writer's rows (`applyRows`); `rowsSince` is what the writer serves it to catch up.
 */
import type { JsonObject, Logger, NotifyFn } from '@hs/core';
import { silentLogger } from '@hs/core';
import { TimerWheel, systemClock, type Clock } from './timer-wheel.ts';

/** Synapse's default and cap for a client's typing timeout. */
export const DEFAULT_TYPING_TIMEOUT_MS = 30_000;
export const MAX_TYPING_TIMEOUT_MS = 120_000;
/** A remote server's typing notice lasts this long unless renewed (Synapse's FEDERATION_TIMEOUT). */
export const REMOTE_TYPING_TIMEOUT_MS = 60_000;
/** Rooms without a change for this long are forgotten (clients time typing out themselves). */
const FORGET_AFTER_MS = 10 * 60_000;

/** One replication row: a room's complete typing set as of `stream_id`. */
export interface TypingRow extends JsonObject {
  stream_id: number;
  room_id: string;
  user_ids: string[];
}

export interface TypingStateOptions {
  notify: NotifyFn;
  clock?: Clock;
  log?: Logger;
  /** Timer wheel granularity and tick period; default 5 s. */
  tickMs?: number;
  /** Start the periodic tick (default true); tests drive `tick()` by hand with an injected clock. */
  autoTick?: boolean;
}

interface RoomTyping {
  users: Set<string>;
  /** Stream position of the room's last change. */
  serial: number;
  /** Wall-clock time of the last change, for forgetting idle rooms. */
  changedAt: number;
}

const key = (roomId: string, userId: string) => `${roomId}\u0000${userId}`;

export class TypingState {
  private readonly notify: NotifyFn;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly rooms = new Map<string, RoomTyping>();
  /** (room, user) → time typing ends, for members typing on this writer. */
  private readonly until = new Map<string, number>();
  private readonly wheel: TimerWheel<string>;
  private serial = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastForget: number;

  constructor(opts: TypingStateOptions) {
    this.notify = opts.notify;
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

  /** `userId` is typing in `roomId` for `timeoutMs` from now (renewing an earlier notice). */
  start(roomId: string, userId: string, timeoutMs: number): void {
    const now = this.clock();
    const k = key(roomId, userId);
    const ends = now + Math.max(0, timeoutMs);
    this.until.set(k, ends);
    this.wheel.insert(now, k, ends);
    if (this.rooms.get(roomId)?.users.has(userId)) return;
    this.change(roomId, userId, true, now);
  }

  /** `userId` stopped typing (or left the room). A no-op when they were not typing. */
  stop(roomId: string, userId: string): void {
    this.until.delete(key(roomId, userId));
    if (!this.rooms.get(roomId)?.users.has(userId)) return;
    this.change(roomId, userId, false, this.clock());
  }

  /** A typing EDU from another server: it lasts REMOTE_TYPING_TIMEOUT_MS unless renewed or stopped. */
  applyRemote(roomId: string, userId: string, typing: boolean): void {
    if (typing) this.start(roomId, userId, REMOTE_TYPING_TIMEOUT_MS);
    else this.stop(roomId, userId);
  }

  isTyping(roomId: string, userId: string): boolean {
    return this.rooms.get(roomId)?.users.has(userId) ?? false;
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
    if (now - this.lastForget >= FORGET_AFTER_MS) {
      this.lastForget = now;
      for (const [roomId, room] of this.rooms) {
        if (room.users.size === 0 && now - room.changedAt >= FORGET_AFTER_MS) this.rooms.delete(roomId);
      }
    }
  }

  private change(roomId: string, userId: string, typing: boolean, now: number): void {
    let room = this.rooms.get(roomId);
    if (!room) {
      room = { users: new Set(), serial: 0, changedAt: now };
      this.rooms.set(roomId, room);
    }
    if (typing) room.users.add(userId);
    else room.users.delete(userId);
    this.serial += 1;
    room.serial = this.serial;
    room.changedAt = now;
    this.notify({ stream: 'typing', position: this.serial, rooms: [roomId] });
  }

  /**
   * Rooms among `roomIds` (all rooms when omitted) whose typing changed in (fromPos, toPos], with who
   * is typing there now. What /sync sends as `m.typing` for an incremental sync.
   */
  getTypingUpdates(fromPos: number, toPos: number = this.serial, roomIds?: Iterable<string>): Map<string, string[]> {
    const out = new Map<string, string[]>();
    if (fromPos >= toPos) return out;
    const consider = (roomId: string, room: RoomTyping | undefined) => {
      if (room && room.serial > fromPos && room.serial <= toPos) out.set(roomId, [...room.users]);
    };
    if (roomIds) for (const roomId of roomIds) consider(roomId, this.rooms.get(roomId));
    else for (const [roomId, room] of this.rooms) consider(roomId, room);
    return out;
  }

  /** Who is typing in each of `roomIds` right now (rooms with nobody typing are left out): initial syncs. */
  getRoomsTyping(roomIds: Iterable<string>): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const roomId of roomIds) {
      const room = this.rooms.get(roomId);
      if (room && room.users.size > 0) out.set(roomId, [...room.users]);
    }
    return out;
  }

  /**
   * Replication rows for (fromPos, toPos], in position order, at most `limit`: each changed room once,
   * with its current set. When limited, `upTo` is the position the rows cover (ask again from there).
   */
  rowsSince(fromPos: number, toPos: number = this.serial, limit = 1000): { rows: TypingRow[]; upTo: number } {
    const rows: TypingRow[] = [];
    for (const [roomId, room] of this.rooms) {
      if (room.serial > fromPos && room.serial <= toPos) rows.push({ stream_id: room.serial, room_id: roomId, user_ids: [...room.users] });
    }
    rows.sort((a, b) => a.stream_id - b.stream_id);
    if (rows.length > limit) {
      const kept = rows.slice(0, limit);
      return { rows: kept, upTo: (kept[kept.length - 1] as TypingRow).stream_id };
    }
    return { rows, upTo: toPos };
  }

  /**
   * A follower applies the writer's rows. A position below ours means the writer restarted (typing is
   * in memory only), so everything known is dropped first, as Synapse does.
   */
  applyRows(token: number, rows: readonly TypingRow[]): void {
    if (token < this.serial) {
      this.log.info('typing stream went backwards (writer restarted); resetting', { from: this.serial, to: token });
      this.rooms.clear();
      this.until.clear();
    }
    const now = this.clock();
    const changed: string[] = [];
    for (const row of rows) {
      this.rooms.set(row.room_id, { users: new Set(row.user_ids), serial: row.stream_id, changedAt: now });
      changed.push(row.room_id);
    }
    this.serial = token;
    if (changed.length > 0) this.notify({ stream: 'typing', position: token, rooms: changed });
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
