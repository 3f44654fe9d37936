/**
 * Who is typing in each room, with the typing-stream serial of each room's last change. The writer's
 * `TypingState` and a worker's `TypingMirror` both keep one and answer /sync's questions from it, so
 * the two give the same answers for the same rows.
 */
import type { TypingRow } from './typing-replication.ts';

interface RoomTyping {
  users: Set<string>;
  /** Stream position of the room's last change. */
  serial: number;
  /** Wall-clock time of the last change, for forgetting idle rooms. */
  changedAt: number;
}

/** What /sync reads from typing, on the writer (`TypingState`) or on a worker (`TypingMirror`). */
export interface TypingReader {
  /** The typing stream position this process has reached. */
  readonly position: number;
  /** Rooms among `roomIds` (all when omitted) whose typing changed in (fromPos, toPos], with who types now. */
  getTypingUpdates(fromPos: number, toPos?: number, roomIds?: Iterable<string>): Map<string, string[]>;
  /** Who is typing in each of `roomIds` now; rooms with nobody typing are left out. */
  getRoomsTyping(roomIds: Iterable<string>): Map<string, string[]>;
}

export class TypingRooms {
  private readonly rooms = new Map<string, RoomTyping>();

  isTyping(roomId: string, userId: string): boolean {
    return this.rooms.get(roomId)?.users.has(userId) ?? false;
  }

  /** Adds or removes one user at `serial`. */
  change(roomId: string, userId: string, typing: boolean, serial: number, now: number): void {
    let room = this.rooms.get(roomId);
    if (!room) {
      room = { users: new Set(), serial, changedAt: now };
      this.rooms.set(roomId, room);
    }
    if (typing) room.users.add(userId);
    else room.users.delete(userId);
    room.serial = serial;
    room.changedAt = now;
  }

  /** Replaces a room's whole set (a replicated row). */
  set(roomId: string, userIds: readonly string[], serial: number, now: number): void {
    this.rooms.set(roomId, { users: new Set(userIds), serial, changedAt: now });
  }

  /** The room's replication row: its current set at the serial of its last change. */
  rowOf(roomId: string): TypingRow | undefined {
    const room = this.rooms.get(roomId);
    return room && { id: room.serial, room_id: roomId, user_ids: [...room.users] };
  }

  /** Rooms with someone typing. */
  activeRoomIds(): string[] {
    return [...this.rooms].filter(([, r]) => r.users.size > 0).map(([id]) => id);
  }

  clear(): void {
    this.rooms.clear();
  }

  updates(fromPos: number, toPos: number, roomIds?: Iterable<string>): Map<string, string[]> {
    const out = new Map<string, string[]>();
    if (fromPos >= toPos) return out;
    const consider = (roomId: string, room: RoomTyping | undefined) => {
      if (room && room.serial > fromPos && room.serial <= toPos) out.set(roomId, [...room.users]);
    };
    if (roomIds) for (const roomId of roomIds) consider(roomId, this.rooms.get(roomId));
    else for (const [roomId, room] of this.rooms) consider(roomId, room);
    return out;
  }

  typing(roomIds: Iterable<string>): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const roomId of roomIds) {
      const room = this.rooms.get(roomId);
      if (room && room.users.size > 0) out.set(roomId, [...room.users]);
    }
    return out;
  }

  /** Each room whose last change lies in (fromPos, toPos], once, with its current set; by serial. */
  rowsSince(fromPos: number, toPos: number): TypingRow[] {
    const rows: TypingRow[] = [];
    for (const [roomId, room] of this.rooms) {
      if (room.serial > fromPos && room.serial <= toPos) rows.push({ id: room.serial, room_id: roomId, user_ids: [...room.users] });
    }
    return rows.sort((a, b) => a.id - b.id);
  }

  /** Drops rooms nobody has typed in for `idleMs`; returns the highest serial dropped (0 if none). */
  forgetIdle(now: number, idleMs: number): number {
    let highest = 0;
    for (const [roomId, room] of this.rooms) {
      if (room.users.size === 0 && now - room.changedAt >= idleMs) {
        this.rooms.delete(roomId);
        highest = Math.max(highest, room.serial);
      }
    }
    return highest;
  }
}
