/**
 * Events as clients see them (client-server-api › Room Events › Client format, definitions
 * client_event.yaml). Stored PDUs are never rewritten: a redacted event is pruned here with the
 * room version's redaction algorithm and gets `unsigned.redacted_because`. State events get
 * `unsigned.prev_content`, `prev_sender` and `replaces_state` from the event they replaced.
 */
import type { JsonObject, JsonValue } from '@hs/core';
import { isJsonObject } from '@hs/core';
import type { PDU } from '@hs/events';
import { redactEvent } from '@hs/events';
import type { EventStore } from './event-store.ts';
import type { StoredEvent } from './stored-event.ts';
import { roomVersionOf } from './stored-event.ts';
import { txnScopeOf } from './ids.ts';

export type ClientEventFormat = 'client' | 'sync';

/** Everything needed to serialise one event for a client. */
export interface ClientEventSource {
  readonly event: StoredEvent;
  /** The PDU to serve: pruned if the event was redacted. */
  readonly pdu: PDU;
  /** The redaction that applies, if any. */
  readonly redactedBecause?: ClientEventSource;
  /** The state event this one replaced (content pruned if it was redacted). */
  readonly prev?: { readonly eventId: string; readonly sender: string; readonly content: JsonObject };
}

/** Who is asking: `unsigned.transaction_id` only goes to the device (or token) that sent the event. */
export interface ClientRequester {
  readonly userId: string;
  readonly deviceId?: string;
  readonly tokenId?: number;
  readonly appserviceId?: string;
}

export interface SerializeOptions {
  readonly requester?: ClientRequester;
  /** For `unsigned.age`. Default: now. */
  readonly now?: number;
  /** The requester's membership at the event (unsigned.membership), from filterEventsForUser. */
  readonly membership?: string;
}

function servedPdu(ev: StoredEvent): PDU {
  return ev.redactedBy === undefined ? ev.pdu : redactEvent(ev.pdu, roomVersionOf(ev));
}

/**
 * Load events for serving to clients, in the given order (unknown IDs skipped): applies
 * redactions and fetches the redaction and replaced-state events, in two queries at most.
 */
export async function loadEventsForClient(store: EventStore, events: Iterable<string | StoredEvent>): Promise<ClientEventSource[]> {
  const list = [...events];
  const ids = list.filter((e): e is string => typeof e === 'string');
  const loaded = ids.length > 0 ? await store.getEvents(ids) : new Map<string, StoredEvent>();
  const stored = list.flatMap((e) => (typeof e === 'string' ? (loaded.get(e) ?? []) : [e]));
  const extra = new Set<string>();
  for (const ev of stored) {
    if (ev.redactedBy !== undefined) extra.add(ev.redactedBy);
    if (ev.replacesState !== undefined) extra.add(ev.replacesState);
  }
  const related = extra.size > 0 ? await store.getEvents(extra) : new Map<string, StoredEvent>();
  return stored.map((ev) => {
    const redaction = ev.redactedBy === undefined ? undefined : related.get(ev.redactedBy);
    const replaced = ev.replacesState === undefined ? undefined : related.get(ev.replacesState);
    const pdu = servedPdu(ev);
    return {
      event: ev,
      pdu,
      ...(redaction ? { redactedBecause: { event: redaction, pdu: servedPdu(redaction) } } : {}),
      ...(replaced
        ? { prev: { eventId: replaced.eventId, sender: replaced.sender, content: isJsonObject(servedPdu(replaced).content) ? servedPdu(replaced).content : {} } }
        : {}),
    };
  });
}

/** One event in the client format (`client`) or without `room_id` (`sync`, where the room is implied). */
export function serializeEvent(src: ClientEventSource, format: ClientEventFormat, opts: SerializeOptions = {}): JsonObject {
  const ev = src.event;
  const pdu = src.pdu;
  const content: JsonObject = isJsonObject(pdu.content) ? { ...pdu.content } : {};
  const out: JsonObject = {
    content,
    event_id: ev.eventId,
    origin_server_ts: ev.originServerTs,
    sender: ev.sender,
    type: ev.type,
  };
  if (format === 'client') out.room_id = ev.roomId;
  if (ev.stateKey !== undefined) out.state_key = ev.stateKey;
  // Redactions carry `redacts` both top-level and in content, whatever the room version (MSC2174).
  if (ev.type === 'm.room.redaction' && ev.redactedBy === undefined && ev.redacts !== undefined) {
    out.redacts = ev.redacts;
    content.redacts = ev.redacts;
  }
  const unsigned: Record<string, JsonValue> = { age: Math.max(0, (opts.now ?? Date.now()) - ev.originServerTs) };
  const r = opts.requester;
  if (ev.txnId !== undefined && r !== undefined && r.userId === ev.sender && ev.txnScope === txnScopeOf(r)) {
    unsigned.transaction_id = ev.txnId;
  }
  if (ev.stateKey !== undefined && src.prev) {
    unsigned.replaces_state = src.prev.eventId;
    unsigned.prev_sender = src.prev.sender;
    unsigned.prev_content = src.prev.content;
  }
  if (src.redactedBecause) {
    unsigned.redacted_because = serializeEvent(src.redactedBecause, format, { ...(r ? { requester: r } : {}), ...(opts.now !== undefined ? { now: opts.now } : {}) });
  }
  if (opts.membership !== undefined) unsigned.membership = opts.membership;
  out.unsigned = unsigned;
  return out;
}

/** Load and serialise in one call, in the given order. */
export async function serializeEvents(
  store: EventStore,
  events: Iterable<string | StoredEvent>,
  format: ClientEventFormat,
  opts: SerializeOptions & { readonly memberships?: ReadonlyMap<string, string> } = {},
): Promise<JsonObject[]> {
  const now = opts.now ?? Date.now();
  const sources = await loadEventsForClient(store, events);
  return sources.map((s) => {
    const membership = opts.memberships?.get(s.event.eventId) ?? opts.membership;
    return serializeEvent(s, format, { ...(opts.requester ? { requester: opts.requester } : {}), now, ...(membership !== undefined ? { membership } : {}) });
  });
}
