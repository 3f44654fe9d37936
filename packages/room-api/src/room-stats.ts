/**
 * `room_stats`: each room's directory summary from its current state — joined member count, name,
 * topic, canonical alias, avatar, join rule, history visibility, guest access and room type.
 * Recomputed for the rooms a batch of the events stream touched (two queries plus one event read
 * for all of them), with redacted state read as pruned.
 */
import type { JsonObject } from '@hs/core';
import { isJsonObject } from '@hs/core';
import { redactEvent } from '@hs/events';
import type { EventStore } from '@hs/rooms';
import { roomVersionOf } from '@hs/rooms';
import type { TransactionSql } from '@hs/storage';
import { plainTopic } from './searchable.ts';

/** The state types a room's summary reads (with the member events, counted). */
export const STATS_STATE_TYPES = [
  'm.room.create',
  'm.room.name',
  'm.room.topic',
  'm.room.canonical_alias',
  'm.room.avatar',
  'm.room.join_rules',
  'm.room.history_visibility',
  'm.room.guest_access',
] as const;

const STATS_TYPES = new Set<string>([...STATS_STATE_TYPES, 'm.room.member']);

export function affectsStats(type: string): boolean {
  return STATS_TYPES.has(type);
}

const str = (v: unknown): string | null => (typeof v === 'string' && !v.includes('\u0000') ? v : null);

export async function recomputeRoomStats(tx: TransactionSql, store: EventStore, roomIds: readonly string[]): Promise<void> {
  if (roomIds.length === 0) return;
  const rooms = [...new Set(roomIds)];
  const [counts, stateRows] = await Promise.all([
    tx<{ room_id: string; n: number }[]>`
      SELECT room_id, count(*)::int AS n FROM current_state_events
      WHERE room_id = ANY(${rooms}::text[]) AND type = 'm.room.member' AND membership = 'join'
      GROUP BY room_id`,
    tx<{ room_id: string; type: string; event_id: string }[]>`
      SELECT room_id, type, event_id FROM current_state_events
      WHERE room_id = ANY(${rooms}::text[]) AND state_key = '' AND type = ANY(${STATS_STATE_TYPES as unknown as string[]}::text[])`,
  ]);
  const events = await store.getEvents(
    stateRows.map((r) => r.event_id),
    tx,
  );
  const contentOf = new Map<string, Map<string, JsonObject>>();
  for (const row of stateRows) {
    const ev = events.get(row.event_id);
    if (!ev) continue;
    const pdu = ev.redactedBy === undefined ? ev.pdu : redactEvent(ev.pdu, roomVersionOf(ev));
    let m = contentOf.get(row.room_id);
    if (!m) contentOf.set(row.room_id, (m = new Map()));
    m.set(row.type, isJsonObject(pdu.content) ? pdu.content : {});
  }
  const joined = new Map(counts.map((c) => [c.room_id, Number(c.n)]));
  const rows = rooms.map((room_id) => {
    const c = contentOf.get(room_id) ?? new Map<string, JsonObject>();
    const topic = c.get('m.room.topic');
    return {
      room_id,
      joined_members: joined.get(room_id) ?? 0,
      name: str(c.get('m.room.name')?.name),
      topic: topic ? str(plainTopic(topic)) : null,
      canonical_alias: str(c.get('m.room.canonical_alias')?.alias),
      avatar_url: str(c.get('m.room.avatar')?.url),
      join_rule: str(c.get('m.room.join_rules')?.join_rule),
      history_visibility: str(c.get('m.room.history_visibility')?.history_visibility),
      guest_access: str(c.get('m.room.guest_access')?.guest_access),
      room_type: str(c.get('m.room.create')?.type),
    };
  });
  await tx`
    INSERT INTO room_stats ${tx(rows)}
    ON CONFLICT (room_id) DO UPDATE SET
      joined_members = EXCLUDED.joined_members, name = EXCLUDED.name, topic = EXCLUDED.topic,
      canonical_alias = EXCLUDED.canonical_alias, avatar_url = EXCLUDED.avatar_url,
      join_rule = EXCLUDED.join_rule, history_visibility = EXCLUDED.history_visibility,
      guest_access = EXCLUDED.guest_access, room_type = EXCLUDED.room_type`;
}
