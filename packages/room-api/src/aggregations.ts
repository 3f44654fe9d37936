/**
 * Bundled aggregations (client-server-api › Aggregations of child events): `unsigned["m.relations"]`
 * for events served to clients — the `m.thread` summary (latest event, count, whether the user took
 * part), the latest valid `m.replace` edit, and the `m.reference` chunk. Batched: a fixed number of
 * queries whatever the number of events, so /sync, /messages, /context, /relations, /threads and
 * /search can all call it on a whole page.
 *
 * Like Synapse: state events get nothing; events that are themselves edits or annotations get
 * nothing; only events without a relation of their own can be thread roots; redacted events get no
 * edit; redacted, rejected and ignored users' child events never count.
 */
import type { JsonObject, JsonValue } from '@hs/core';
import { isJsonObject } from '@hs/core';
import type { ClientEventFormat, ClientRequester, EventStore, StoredEvent } from '@hs/rooms';
import { loadEventsForClient, notRedactedSql, relationOf, serializeEvent } from '@hs/rooms';
import type { Sql } from '@hs/storage';

export interface BundleOptions {
  /** For `unsigned.transaction_id` on bundled events sent by the requester's device. */
  readonly requester?: ClientRequester;
  readonly now?: number;
  /** `client` (default) or `sync` (no room_id), matching the events the bundles go on. */
  readonly format?: ClientEventFormat;
  /** Senders whose child events are left out (the requester's ignore list). */
  readonly ignoredUsers?: ReadonlySet<string>;
}

/** The content clients see: pruned for redacted events, so their relation is gone too. */
function servedRelation(ev: StoredEvent): string | undefined {
  if (ev.redactedBy !== undefined) return undefined;
  return isJsonObject(ev.pdu.content) ? relationOf(ev.pdu.content)?.relType : undefined;
}

interface ThreadRow {
  root: string;
  n: number;
  latest: string;
  participated: boolean;
}

/** The latest valid edit of each event (same room, sender and type; not state; has m.new_content). */
async function latestEdits(sql: Sql, originals: readonly string[]): Promise<Map<string, string>> {
  if (originals.length === 0) return new Map();
  const rows = await sql<{ original: string; event_id: string }[]>`
    SELECT DISTINCT ON (r.relates_to_id) r.relates_to_id AS original, e.event_id
    FROM event_relations r
    JOIN events e ON e.event_id = r.event_id
    JOIN events o ON o.event_id = r.relates_to_id
    WHERE r.relates_to_id = ANY(${originals as string[]}::text[]) AND r.relation_type = 'm.replace'
      AND e.room_id = o.room_id AND e.sender = o.sender AND e.type = o.type
      AND e.state_key IS NULL AND o.state_key IS NULL
      AND NOT e.outlier AND e.rejected_reason IS NULL AND ${notRedactedSql(sql)}
      AND (e.type = 'm.room.encrypted' OR (e.json::jsonb -> 'content') ? 'm.new_content')
    ORDER BY r.relates_to_id, e.origin_server_ts DESC, e.event_id DESC`;
  return new Map(rows.map((r) => [r.original, r.event_id]));
}

/**
 * `unsigned["m.relations"]` for each of `events` that has something to bundle, by event ID. Events
 * are as the caller will serve them (already checked for visibility).
 */
export async function bundleAggregations(
  store: EventStore,
  userId: string,
  events: readonly StoredEvent[],
  opts: BundleOptions = {},
): Promise<Map<string, JsonObject>> {
  const sql = store.sql;
  const ignored = [...(opts.ignoredUsers ?? [])];
  const byId = new Map<string, StoredEvent>();
  const plain: StoredEvent[] = [];
  for (const ev of events) {
    if (ev.stateKey !== undefined || byId.has(ev.eventId)) continue;
    const rel = servedRelation(ev);
    if (rel === 'm.annotation' || rel === 'm.replace') continue;
    byId.set(ev.eventId, ev);
    if (rel === undefined) plain.push(ev);
  }
  const out = new Map<string, JsonObject>();
  if (byId.size === 0) return out;
  const all = [...byId.values()];
  const pairs = (list: readonly StoredEvent[]) => [list.map((e) => e.eventId), list.map((e) => e.roomId)] as const;
  const [threadIds, threadRooms] = pairs(plain);
  const [refIds, refRooms] = pairs(all);

  const [threads, edits, refs] = await Promise.all([
    plain.length === 0
      ? ([] as ThreadRow[])
      : sql<ThreadRow[]>`
          SELECT r.relates_to_id AS root, count(*)::int AS n,
                 (array_agg(e.event_id ORDER BY e.topological_ordering DESC, e.stream_ordering DESC))[1] AS latest,
                 bool_or(e.sender = ${userId}) AS participated
          FROM unnest(${threadIds}::text[], ${threadRooms}::text[]) AS p(root, room)
          JOIN event_relations r ON r.relates_to_id = p.root AND r.relation_type = 'm.thread'
          JOIN events e ON e.event_id = r.event_id AND e.room_id = p.room
          WHERE NOT e.outlier AND e.rejected_reason IS NULL AND e.sender <> ALL(${ignored}::text[])
            AND ${notRedactedSql(sql)}
          GROUP BY r.relates_to_id`,
    latestEdits(sql, all.filter((e) => e.redactedBy === undefined).map((e) => e.eventId)),
    sql<{ parent: string; event_id: string }[]>`
      SELECT r.relates_to_id AS parent, e.event_id
      FROM unnest(${refIds}::text[], ${refRooms}::text[]) AS p(parent, room)
      JOIN event_relations r ON r.relates_to_id = p.parent AND r.relation_type = 'm.reference'
      JOIN events e ON e.event_id = r.event_id AND e.room_id = p.room
      WHERE NOT e.outlier AND e.rejected_reason IS NULL AND e.sender <> ALL(${ignored}::text[])
        AND ${notRedactedSql(sql)}
      ORDER BY e.topological_ordering, e.stream_ordering`,
  ]);

  // The latest thread events carry their own edits (one more level, as the spec's example shows).
  const latestIds = threads.map((t) => t.latest);
  const latestStored = await store.getEvents(latestIds);
  const latestEditsById = await latestEdits(
    sql,
    [...latestStored.values()].filter((e) => e.redactedBy === undefined && servedRelation(e) !== 'm.replace').map((e) => e.eventId),
  );
  const toServe = [...new Set([...latestIds, ...edits.values(), ...latestEditsById.values()])];
  const sources = new Map((await loadEventsForClient(store, toServe)).map((s) => [s.event.eventId, s]));
  const serialize = (id: string | undefined): JsonObject | undefined => {
    const src = id === undefined ? undefined : sources.get(id);
    if (!src) return undefined;
    return serializeEvent(src, opts.format ?? 'client', {
      ...(opts.requester ? { requester: opts.requester } : {}),
      ...(opts.now !== undefined ? { now: opts.now } : {}),
    });
  };
  const bundle = (id: string): JsonObject => {
    let b = out.get(id);
    if (!b) out.set(id, (b = {}));
    return b;
  };

  for (const t of threads) {
    const latest = serialize(t.latest);
    if (!latest) continue;
    const edit = serialize(latestEditsById.get(t.latest));
    if (edit) (latest.unsigned as JsonObject)['m.relations'] = { 'm.replace': edit };
    const root = byId.get(t.root);
    bundle(t.root)['m.thread'] = {
      latest_event: latest,
      count: t.n,
      current_user_participated: t.participated || root?.sender === userId,
    };
  }
  for (const [original, editId] of edits) {
    const edit = serialize(editId);
    if (edit) bundle(original)['m.replace'] = edit;
  }
  const chunks = new Map<string, JsonValue[]>();
  for (const r of refs) {
    let c = chunks.get(r.parent);
    if (!c) chunks.set(r.parent, (c = []));
    c.push({ event_id: r.event_id });
  }
  for (const [parent, chunk] of chunks) bundle(parent)['m.reference'] = { chunk };
  return out;
}

/** Put each bundle under `unsigned["m.relations"]` of the serialised event with that ID. */
export function attachBundles(serialized: readonly JsonObject[], bundles: ReadonlyMap<string, JsonObject>): void {
  for (const ev of serialized) {
    const b = typeof ev.event_id === 'string' ? bundles.get(ev.event_id) : undefined;
    if (!b) continue;
    const unsigned = isJsonObject(ev.unsigned) ? ev.unsigned : (ev.unsigned = {});
    unsigned['m.relations'] = b;
  }
}
