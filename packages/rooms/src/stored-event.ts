/**
 * An event as the rooms store holds it: the PDU exactly as persisted plus the columns that queries
 * order and filter on. Redaction is not applied here (see client-events.ts).
 */
import type { PDU, RoomVersion, EventView } from '@hs/events';
import { getRoomVersion, redactEvent, toEventView } from '@hs/events';
import type { Db } from './state-store.ts';

export interface StoredEvent {
  readonly eventId: string;
  readonly roomId: string;
  /** The room's version; undefined only for outliers of rooms we never held state for. */
  readonly roomVersion: string | undefined;
  readonly type: string;
  /** Present for state events only. */
  readonly stateKey: string | undefined;
  readonly sender: string;
  readonly originServerTs: number;
  readonly receivedTs: number;
  readonly streamOrdering: number;
  readonly topologicalOrdering: number;
  /** content.membership of member events. */
  readonly membership: string | undefined;
  readonly redacts: string | undefined;
  /** The state event this one replaced (state before it), for unsigned.replaces_state / prev_content. */
  readonly replacesState: string | undefined;
  readonly rejectedReason: string | undefined;
  readonly outlier: boolean;
  readonly txnId: string | undefined;
  readonly txnScope: string | undefined;
  /** The redaction event that applies to this event, if any (the earliest). */
  readonly redactedBy: string | undefined;
  /** The full PDU as persisted. */
  readonly pdu: PDU;
}

/** The columns every event query selects, in the shape rowToStoredEvent reads. */
export interface EventRow {
  event_id: string;
  room_id: string;
  room_version: string | null;
  type: string;
  state_key: string | null;
  sender: string;
  origin_server_ts: number;
  received_ts: number;
  stream_ordering: number;
  topological_ordering: number;
  membership: string | null;
  redacts: string | null;
  replaces_state: string | null;
  rejected_reason: string | null;
  outlier: boolean;
  txn_id: string | null;
  txn_scope: string | null;
  redacted_by: string | null;
  json: string;
}

const opt = (v: string | null): string | undefined => (v === null ? undefined : v);

export function rowToStoredEvent(r: EventRow): StoredEvent {
  return {
    eventId: r.event_id,
    roomId: r.room_id,
    roomVersion: opt(r.room_version),
    type: r.type,
    stateKey: opt(r.state_key),
    sender: r.sender,
    originServerTs: Number(r.origin_server_ts),
    receivedTs: Number(r.received_ts),
    streamOrdering: Number(r.stream_ordering),
    topologicalOrdering: Number(r.topological_ordering),
    membership: opt(r.membership),
    redacts: opt(r.redacts),
    replacesState: opt(r.replaces_state),
    rejectedReason: opt(r.rejected_reason),
    outlier: r.outlier,
    txnId: opt(r.txn_id),
    txnScope: opt(r.txn_scope),
    redactedBy: opt(r.redacted_by),
    pdu: JSON.parse(r.json) as PDU,
  };
}

/** The room version object of a stored event (v1 rules if unknown, which only affects outliers). */
export function roomVersionOf(ev: StoredEvent): RoomVersion {
  return getRoomVersion(ev.roomVersion ?? '1') ?? (getRoomVersion('1') as RoomVersion);
}

/** The auth-rules view of a stored event (pruned if it was redacted, as auth must see it). */
export function eventViewOf(ev: StoredEvent): EventView {
  const rv = roomVersionOf(ev);
  const view = toEventView(ev.redactedBy === undefined ? ev.pdu : redactEvent(ev.pdu, rv), rv, ev.eventId);
  return ev.rejectedReason !== undefined ? { ...view, rejected: true } : view;
}

/**
 * The select list that produces an `EventRow` from `events e LEFT JOIN rooms r`, including the earliest
 * valid redaction. One definition, so every reader of events gets the same row shape.
 */
export function eventRowColumns(db: Db) {
  return db`e.event_id, e.room_id, r.room_version, e.type, e.state_key, e.sender, e.origin_server_ts,
    e.received_ts, e.stream_ordering, e.topological_ordering, e.membership, e.redacts,
    e.replaces_state, e.rejected_reason, e.outlier, e.txn_id, e.txn_scope, e.json,
    ${redactedBySql(db)} AS redacted_by`;
}

/**
 * Redactions of `e` that apply (same room, not rejected), looked up from `redactions` by target first.
 * The lateral subquery behind `OFFSET 0` cannot be flattened into a join, so the planner cannot
 * choose to walk the room's events instead — which it does on tables without statistics yet, making
 * every event read cost the size of its room.
 */
function validRedactionsOf(db: Db) {
  return db`redactions rd
    CROSS JOIN LATERAL (SELECT re.stream_ordering FROM events re
      WHERE re.event_id = rd.event_id AND re.room_id = e.room_id AND re.rejected_reason IS NULL OFFSET 0) re
    WHERE rd.redacts = e.event_id`;
}

/** SQL: the earliest redaction that applies to `e` (an `events e` row), or NULL. */
export function redactedBySql(db: Db) {
  return db`(SELECT rd.event_id FROM ${validRedactionsOf(db)} ORDER BY re.stream_ordering LIMIT 1)`;
}

/** SQL condition: no redaction applies to `e`. */
export function notRedactedSql(db: Db) {
  return db`NOT EXISTS (SELECT 1 FROM ${validRedactionsOf(db)})`;
}
