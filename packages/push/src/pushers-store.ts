/**
 * Reading pushers from Postgres: a user's (GET /pushers), many users' (the pusher worker, when
 * events notify them), and the `pushers` stream's changes in a range (so the pusher worker can follow
 * additions, updates and removals).
 */
import type { JsonObject } from '@hs/core';
import type { Sql } from '@hs/storage';

export interface StoredPusher {
  readonly userId: string;
  readonly appId: string;
  readonly pushkey: string;
  readonly kind: string;
  readonly appDisplayName: string;
  readonly deviceDisplayName: string;
  readonly profileTag: string | null;
  readonly lang: string | null;
  /** As the client sent it (`url` and `format` for http pushers, plus anything custom). */
  readonly data: JsonObject;
  readonly deviceId: string | null;
  readonly accessTokenId: number | null;
  readonly createdTs: number;
  readonly enabled: boolean;
  /** Events up to this stream ordering have been handled for this pusher. */
  readonly lastStreamOrdering: number;
  readonly lastSuccessTs: number | null;
  readonly failingSinceTs: number | null;
  /** The `pushers` stream position of its last change. */
  readonly streamId: number;
}

interface Row {
  user_id: string;
  app_id: string;
  pushkey: string;
  kind: string;
  app_display_name: string;
  device_display_name: string;
  profile_tag: string | null;
  lang: string | null;
  data: JsonObject;
  device_id: string | null;
  access_token_id: number | null;
  created_ts: number;
  enabled: boolean;
  last_stream_ordering: number;
  last_success_ts: number | null;
  failing_since_ts: number | null;
  stream_id: number;
}

const num = (v: number | null): number | null => (v === null ? null : Number(v));

function fromRow(r: Row): StoredPusher {
  return {
    userId: r.user_id,
    appId: r.app_id,
    pushkey: r.pushkey,
    kind: r.kind,
    appDisplayName: r.app_display_name,
    deviceDisplayName: r.device_display_name,
    profileTag: r.profile_tag,
    lang: r.lang,
    data: r.data,
    deviceId: r.device_id,
    accessTokenId: num(r.access_token_id),
    createdTs: Number(r.created_ts),
    enabled: r.enabled,
    lastStreamOrdering: Number(r.last_stream_ordering),
    lastSuccessTs: num(r.last_success_ts),
    failingSinceTs: num(r.failing_since_ts),
    streamId: Number(r.stream_id),
  };
}

/** Every pusher of each of `userIds` (users without any are absent), oldest first. */
export async function getPushersForUsers(sql: Sql, userIds: readonly string[]): Promise<Map<string, StoredPusher[]>> {
  const out = new Map<string, StoredPusher[]>();
  if (userIds.length === 0) return out;
  const rows = await sql<Row[]>`
    SELECT * FROM pushers WHERE user_id = ANY(${[...new Set(userIds)]}) ORDER BY user_id, created_ts, app_id, pushkey`;
  for (const row of rows) {
    let list = out.get(row.user_id);
    if (!list) out.set(row.user_id, (list = []));
    list.push(fromRow(row));
  }
  return out;
}

export async function getPushersForUser(sql: Sql, userId: string): Promise<StoredPusher[]> {
  return (await getPushersForUsers(sql, [userId])).get(userId) ?? [];
}

/** A pusher in the shape of GET /pushers (the spec's Pusher object). */
export function formatPusher(p: StoredPusher): JsonObject {
  const out: JsonObject = {
    pushkey: p.pushkey,
    kind: p.kind,
    app_id: p.appId,
    app_display_name: p.appDisplayName,
    device_display_name: p.deviceDisplayName,
    lang: p.lang ?? '',
    data: p.data,
  };
  if (p.profileTag !== null) out.profile_tag = p.profileTag;
  return out;
}

export type PusherChange =
  | { readonly streamId: number; readonly op: 'set'; readonly pusher: StoredPusher }
  | { readonly streamId: number; readonly op: 'delete'; readonly userId: string; readonly appId: string; readonly pushkey: string };

/**
 * The `pushers` stream in (from, to], in stream order: pushers added or updated (their current row)
 * and pushers removed. Applying them in order gives the current set.
 */
export async function getPusherChanges(sql: Sql, from: number, to: number): Promise<PusherChange[]> {
  if (to <= from) return [];
  const [set, deleted] = await Promise.all([
    sql<Row[]>`SELECT * FROM pushers WHERE stream_id > ${from} AND stream_id <= ${to}`,
    sql<{ stream_id: number; user_id: string; app_id: string; pushkey: string }[]>`
      SELECT stream_id, user_id, app_id, pushkey FROM deleted_pushers WHERE stream_id > ${from} AND stream_id <= ${to}`,
  ]);
  const changes: PusherChange[] = [
    ...set.map((r) => ({ streamId: Number(r.stream_id), op: 'set' as const, pusher: fromRow(r) })),
    ...deleted.map((r) => ({ streamId: Number(r.stream_id), op: 'delete' as const, userId: r.user_id, appId: r.app_id, pushkey: r.pushkey })),
  ];
  // A pusher removed and added again in one position range: the removal comes first.
  return changes.sort((a, b) => a.streamId - b.streamId || (a.op === b.op ? 0 : a.op === 'delete' ? -1 : 1));
}
