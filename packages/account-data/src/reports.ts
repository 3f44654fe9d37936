/** Content reports (events, rooms, users), kept for server admins to review through the Admin API. */
import type { JsonObject } from '@hs/core';
import type { Sql } from '@hs/storage';

export async function addEventReport(
  sql: Sql,
  r: { roomId: string; eventId: string; userId: string; reason: string | null; score: number | null; content: JsonObject; receivedTs: number },
): Promise<void> {
  await sql`
    INSERT INTO event_reports (received_ts, room_id, event_id, user_id, reason, score, content)
    VALUES (${r.receivedTs}, ${r.roomId}, ${r.eventId}, ${r.userId}, ${r.reason}, ${r.score}, ${sql.json(r.content)})`;
}

export async function addRoomReport(sql: Sql, r: { roomId: string; userId: string; reason: string; receivedTs: number }): Promise<void> {
  await sql`INSERT INTO room_reports (received_ts, room_id, user_id, reason) VALUES (${r.receivedTs}, ${r.roomId}, ${r.userId}, ${r.reason})`;
}

export async function addUserReport(sql: Sql, r: { targetUserId: string; userId: string; reason: string; receivedTs: number }): Promise<void> {
  await sql`
    INSERT INTO user_reports (received_ts, target_user_id, user_id, reason)
    VALUES (${r.receivedTs}, ${r.targetUserId}, ${r.userId}, ${r.reason})`;
}
