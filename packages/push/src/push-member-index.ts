/**
 * Each room's numbering of its local push recipients (`push_room_members`): the bit positions of
 * `event_push_actions.recipients`. A number is assigned the first time a user gets a push action in a
 * room and never changes or is reused, so assignments can be cached per process without
 * invalidation; new ones are made under a per-room advisory lock (any process may assign).
 */
import { WeightedLru } from '@hs/rooms';
import type { Sql } from '@hs/storage';

/** Namespace of the per-room advisory locks taken while numbering members (arbitrary, fixed). */
const LOCK_NAMESPACE = 7_304_109;

export class PushMemberIndex {
  /** room → user → number; weighted by members held. */
  private readonly rooms: WeightedLru<string, Map<string, number>>;

  constructor(opts: { maxEntries?: number } = {}) {
    this.rooms = new WeightedLru(opts.maxEntries ?? 1_000_000, (m) => m.size);
  }

  /** The numbers of `users` in each room (`room → users`), assigning numbers to those who have none. */
  async numbersFor(sql: Sql, wanted: ReadonlyMap<string, ReadonlySet<string>>): Promise<Map<string, Map<string, number>>> {
    const out = new Map<string, Map<string, number>>();
    const missingRooms: string[] = [];
    const missingUsers: string[] = [];
    for (const [roomId, users] of wanted) {
      const known = this.rooms.get(roomId);
      const map = new Map<string, number>();
      out.set(roomId, map);
      for (const u of users) {
        const n = known?.get(u);
        if (n === undefined) {
          missingRooms.push(roomId);
          missingUsers.push(u);
        } else map.set(u, n);
      }
    }
    if (missingUsers.length === 0) return out;

    // Someone (this or another process) may have numbered them already: read first, assign the rest.
    const found = await sql<{ room_id: string; user_id: string; idx: number }[]>`
      SELECT m.room_id, m.user_id, m.idx FROM push_room_members m
        JOIN unnest(${missingRooms}::text[], ${missingUsers}::text[]) AS w(room_id, user_id)
          ON m.user_id = w.user_id AND m.room_id = w.room_id`;
    for (const r of found) this.remember(out, r.room_id, r.user_id, r.idx);
    const unassigned = new Map<string, string[]>();
    for (let i = 0; i < missingUsers.length; i++) {
      const roomId = missingRooms[i] as string;
      const userId = missingUsers[i] as string;
      if (out.get(roomId)?.has(userId)) continue;
      let list = unassigned.get(roomId);
      if (!list) unassigned.set(roomId, (list = []));
      if (!list.includes(userId)) list.push(userId);
    }
    if (unassigned.size === 0) return out;

    const rooms = [...unassigned.keys()].sort();
    type Numbered = { room_id: string; user_id: string; idx: number };
    const assigned: Numbered[] = await sql.begin(async (tx): Promise<Numbered[]> => {
      // Sorted, so two processes numbering overlapping rooms cannot deadlock.
      for (const roomId of rooms) await tx`SELECT pg_advisory_xact_lock(${LOCK_NAMESPACE}, hashtext(${roomId}))`;
      const [existing, tops] = await Promise.all([
        tx<{ room_id: string; user_id: string; idx: number }[]>`
          SELECT room_id, user_id, idx FROM push_room_members WHERE room_id = ANY(${rooms}) AND user_id = ANY(${[...new Set(missingUsers)]})`,
        tx<{ room_id: string; top: number }[]>`
          SELECT room_id, max(idx) AS top FROM push_room_members WHERE room_id = ANY(${rooms}) GROUP BY room_id`,
      ]);
      const have = new Set(existing.map((r) => `${r.room_id}\u0000${r.user_id}`));
      const next = new Map(tops.map((t) => [t.room_id, Number(t.top) + 1]));
      const rows: { room_id: string; user_id: string; idx: number }[] = [...existing];
      const fresh: { room_id: string; user_id: string; idx: number }[] = [];
      for (const roomId of rooms) {
        for (const userId of unassigned.get(roomId) ?? []) {
          if (have.has(`${roomId}\u0000${userId}`)) continue;
          const idx = next.get(roomId) ?? 0;
          next.set(roomId, idx + 1);
          fresh.push({ room_id: roomId, user_id: userId, idx });
        }
      }
      if (fresh.length > 0) await tx`INSERT INTO push_room_members ${tx(fresh)}`;
      return [...rows, ...fresh];
    });
    for (const r of assigned) this.remember(out, r.room_id, r.user_id, r.idx);
    return out;
  }

  private remember(out: Map<string, Map<string, number>>, roomId: string, userId: string, idx: number): void {
    out.get(roomId)?.set(userId, idx);
    const known = this.rooms.get(roomId) ?? new Map<string, number>();
    known.set(userId, idx);
    // Re-set so the cache weighs the room by its current size.
    this.rooms.set(roomId, known);
  }
}

/** Set bit `i` of a recipients bitmap (the layout Postgres's get_bit reads on bytea). */
export function setRecipientBit(bits: Uint8Array, i: number): void {
  bits[i >> 3] = (bits[i >> 3] as number) | (1 << (i & 7));
}

/** The member numbers set in a recipients bitmap. */
export function recipientNumbers(bits: Uint8Array): number[] {
  const out: number[] = [];
  for (let byte = 0; byte < bits.length; byte++) {
    const b = bits[byte] as number;
    if (b === 0) continue;
    for (let bit = 0; bit < 8; bit++) if (b & (1 << bit)) out.push(byte * 8 + bit);
  }
  return out;
}
