/**
 * Room ephemeral events: `m.typing` (who is typing now, for rooms whose typing changed, or every room
 * with someone typing when sent in full) and `m.receipt` (receipts changed in the window; all current
 * ones when sent in full). Typing comes from the process's in-memory typing state, receipts from Postgres.
 */
import type { JsonObject } from '@hs/core';
import type { TypingReader } from '@hs/ephemeral';
import { getReceiptsForRooms } from '@hs/ephemeral';
import type { Sql } from '@hs/storage';

export interface EphemeralWindow {
  /** Rooms sent in full: current typing and every receipt. */
  readonly fullRooms: readonly string[];
  /** Rooms sent as a delta since the request's `since`. */
  readonly deltaRooms: readonly string[];
  readonly typingFrom: number;
  readonly typingTo: number;
  readonly receiptsFrom: number;
  readonly receiptsTo: number;
}

export async function ephemeralEvents(sql: Sql, typing: TypingReader, userId: string, w: EphemeralWindow): Promise<Map<string, JsonObject[]>> {
  const out = new Map<string, JsonObject[]>();
  const add = (roomId: string, ev: JsonObject) => {
    const list = out.get(roomId);
    if (list) list.push(ev);
    else out.set(roomId, [ev]);
  };
  const typingNow = typing.getRoomsTyping(w.fullRooms);
  const typingChanged = w.deltaRooms.length > 0 && w.typingTo > w.typingFrom ? typing.getTypingUpdates(w.typingFrom, w.typingTo, w.deltaRooms) : new Map<string, string[]>();
  for (const m of [typingNow, typingChanged]) for (const [roomId, users] of m) add(roomId, { type: 'm.typing', content: { user_ids: users } });
  const [full, delta] = await Promise.all([
    getReceiptsForRooms(sql, w.fullRooms, 0, w.receiptsTo, userId),
    w.receiptsTo > w.receiptsFrom ? getReceiptsForRooms(sql, w.deltaRooms, w.receiptsFrom, w.receiptsTo, userId) : Promise.resolve(new Map()),
  ]);
  for (const m of [full, delta]) for (const [roomId, content] of m) add(roomId, { type: 'm.receipt', content: content as JsonObject });
  return out;
}
