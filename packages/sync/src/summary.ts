/**
 * Room summaries (`m.heroes`, `m.joined_member_count`, `m.invited_member_count`) for many rooms at once.
 * Heroes are only needed when the room has no usable name or canonical alias: the first five joined or
 * invited members by stream order, never the user; when there are none, the users who left or were
 * banned (the spec's rule, as Synapse computes it).
 */
import type { JsonObject } from '@hs/core';
import type { Sql } from '@hs/storage';

export interface RoomSummary {
  readonly heroes?: string[];
  readonly joined: number;
  readonly invited: number;
}

export const HERO_COUNT = 5;

export function summaryJson(s: RoomSummary): JsonObject {
  return {
    ...(s.heroes ? { 'm.heroes': s.heroes } : {}),
    'm.joined_member_count': s.joined,
    'm.invited_member_count': s.invited,
  };
}

function hasText(json: string, field: string): boolean {
  try {
    const content = (JSON.parse(json) as { content?: Record<string, unknown> }).content;
    const v = content?.[field];
    return typeof v === 'string' && v !== '';
  } catch {
    return false;
  }
}

export async function computeSummaries(sql: Sql, userId: string, roomIds: readonly string[]): Promise<Map<string, RoomSummary>> {
  const out = new Map<string, RoomSummary>();
  if (roomIds.length === 0) return out;
  const rooms = roomIds as string[];
  const [counts, names] = await Promise.all([
    sql<{ room_id: string; membership: string; n: number }[]>`
      SELECT room_id, membership, count(*)::int AS n FROM current_state_events
      WHERE room_id = ANY(${rooms}::text[]) AND type = 'm.room.member' AND membership IN ('join', 'invite')
      GROUP BY room_id, membership`,
    sql<{ room_id: string; type: string; json: string }[]>`
      SELECT c.room_id, c.type, e.json FROM current_state_events c JOIN events e ON e.event_id = c.event_id
      WHERE c.room_id = ANY(${rooms}::text[]) AND c.state_key = '' AND c.type IN ('m.room.name', 'm.room.canonical_alias')`,
  ]);
  const named = new Set<string>();
  for (const r of names) if (hasText(r.json, r.type === 'm.room.name' ? 'name' : 'alias')) named.add(r.room_id);
  const needHeroes = rooms.filter((r) => !named.has(r));
  const heroes = new Map<string, string[]>();
  const addHero = (r: { room_id: string; state_key: string }) => {
    const list = heroes.get(r.room_id);
    if (list) list.push(r.state_key);
    else heroes.set(r.room_id, [r.state_key]);
  };
  if (needHeroes.length > 0) {
    const pick = (memberships: string[], ids: string[]) => sql<{ room_id: string; state_key: string }[]>`
      SELECT r.room_id, h.state_key FROM unnest(${ids}::text[]) AS r(room_id)
      CROSS JOIN LATERAL (
        SELECT c.state_key, e.stream_ordering AS so FROM current_state_events c JOIN events e ON e.event_id = c.event_id
        WHERE c.room_id = r.room_id AND c.type = 'm.room.member' AND c.state_key <> ${userId}
          AND c.membership = ANY(${memberships}::text[])
        ORDER BY e.stream_ordering LIMIT ${HERO_COUNT}
      ) AS h
      ORDER BY r.room_id, h.so`;
    for (const r of await pick(['join', 'invite'], needHeroes)) addHero(r);
    const lonely = needHeroes.filter((r) => !heroes.has(r));
    if (lonely.length > 0) {
      for (const r of await pick(['leave', 'ban'], lonely)) addHero(r);
    }
  }
  const tally = new Map<string, { joined: number; invited: number }>();
  for (const c of counts) {
    const t = tally.get(c.room_id) ?? { joined: 0, invited: 0 };
    tally.set(c.room_id, t);
    if (c.membership === 'join') t.joined = Number(c.n);
    else t.invited = Number(c.n);
  }
  for (const roomId of rooms) {
    const t = tally.get(roomId) ?? { joined: 0, invited: 0 };
    out.set(roomId, { ...t, ...(named.has(roomId) ? {} : { heroes: heroes.get(roomId) ?? [] }) });
  }
  return out;
}
