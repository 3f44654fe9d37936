/**
 * All of a user's account data for some rooms (tags folded into `m.tag`), for rooms sent in full in an
 * incremental sync (newly joined, `full_state`), read from the account-data domain's tables. The
 * account-data package's own reader answers "what changed since X" for every room of the user.
 */
import type { AccountDataEvent } from '@hs/account-data';
import { TAG_EVENT_TYPE } from '@hs/account-data';
import type { JsonObject } from '@hs/core';
import type { Sql } from '@hs/storage';

export async function getRoomAccountDataFor(sql: Sql, userId: string, roomIds: readonly string[]): Promise<Map<string, AccountDataEvent[]>> {
  const out = new Map<string, AccountDataEvent[]>();
  if (roomIds.length === 0) return out;
  const rooms = roomIds as string[];
  const [data, tagged, tags] = await Promise.all([
    sql<{ room_id: string; account_data_type: string; content: JsonObject }[]>`
      SELECT room_id, account_data_type, content FROM room_account_data
      WHERE user_id = ${userId} AND room_id = ANY(${rooms}::text[]) ORDER BY stream_id`,
    sql<{ room_id: string }[]>`SELECT room_id FROM room_tags_revisions WHERE user_id = ${userId} AND room_id = ANY(${rooms}::text[])`,
    sql<{ room_id: string; tag: string; content: JsonObject }[]>`
      SELECT room_id, tag, content FROM room_tags WHERE user_id = ${userId} AND room_id = ANY(${rooms}::text[])`,
  ]);
  const add = (roomId: string, ev: AccountDataEvent) => {
    const list = out.get(roomId);
    if (list) list.push(ev);
    else out.set(roomId, [ev]);
  };
  const tagRooms = new Set([...tagged.map((r) => r.room_id), ...tags.map((t) => t.room_id)]);
  for (const r of data) if (!(r.account_data_type === TAG_EVENT_TYPE && tagRooms.has(r.room_id))) add(r.room_id, { type: r.account_data_type, content: r.content });
  const byRoom = new Map<string, Record<string, JsonObject>>([...tagRooms].map((r) => [r, {}]));
  for (const t of tags) (byRoom.get(t.room_id) as Record<string, JsonObject>)[t.tag] = t.content;
  for (const [roomId, roomTags] of byRoom) add(roomId, { type: TAG_EVENT_TYPE, content: { tags: roomTags } });
  return out;
}
