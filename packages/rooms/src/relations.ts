/** `m.relates_to` of an event's content (client-server-api › Forming relationships between events). */
import type { JsonObject } from '@hs/core';
import { isJsonObject } from '@hs/core';

export interface Relation {
  readonly relType: string;
  readonly eventId: string;
  /** The annotation key (reactions). */
  readonly key?: string;
}

/**
 * The relation an event declares, if well formed. Replies (`m.in_reply_to` without `rel_type`)
 * are not relations in this sense and are not indexed, as in Synapse.
 */
export function relationOf(content: JsonObject): Relation | undefined {
  const rel = content['m.relates_to'];
  if (!isJsonObject(rel)) return undefined;
  const relType = rel.rel_type;
  const eventId = rel.event_id;
  if (typeof relType !== 'string' || typeof eventId !== 'string' || !eventId.startsWith('$')) return undefined;
  const key = rel.key;
  return relType === 'm.annotation' && typeof key === 'string' ? { relType, eventId, key } : { relType, eventId };
}
