/**
 * Which thread an event belongs to, as notification counts and threaded receipts name threads: the
 * root's event ID for an event in a thread, else `main`. A `m.thread` relation names its root; any
 * other relation (an edit, a reaction, a reference) belongs to the thread of the event it relates to,
 * found by walking up stored relations a few steps (Synapse's rule).
 */
import { isJsonObject } from '@hs/core';
import { relationOf } from '@hs/rooms';
import type { Sql } from '@hs/storage';

export const MAIN_THREAD_ID = 'main';
export const THREAD_REL_TYPE = 'm.thread';

/** Relation chains are short (an annotation on an edit of a threaded event): look this far up. */
const MAX_WALK = 3;

/** What `content` relates to: the thread root, or the parent whose thread must be looked up. */
export function relationForThread(content: unknown): { threadRoot: string } | { parent: string } | undefined {
  if (!isJsonObject(content)) return undefined;
  const rel = relationOf(content);
  if (!rel) return undefined;
  return rel.relType === THREAD_REL_TYPE ? { threadRoot: rel.eventId } : { parent: rel.eventId };
}

/** The thread root of each of `eventIds` that is in a thread (events in the main timeline are absent). */
export async function threadRootsOf(sql: Sql, eventIds: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (eventIds.length === 0) return out;
  const rows = await sql<{ start: string; root: string }[]>`
    WITH RECURSIVE chain (start, relates_to_id, relation_type, depth) AS (
      SELECT event_id, relates_to_id, relation_type, 0 FROM event_relations WHERE event_id = ANY(${eventIds as string[]})
      UNION ALL
      SELECT c.start, r.relates_to_id, r.relation_type, c.depth + 1
        FROM chain c JOIN event_relations r ON r.event_id = c.relates_to_id
       WHERE c.depth < ${MAX_WALK} AND c.relation_type <> ${THREAD_REL_TYPE}
    )
    SELECT DISTINCT ON (start) start, relates_to_id AS root FROM chain
     WHERE relation_type = ${THREAD_REL_TYPE} ORDER BY start, depth`;
  for (const r of rows) out.set(r.start, r.root);
  return out;
}
