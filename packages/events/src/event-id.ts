/**
 * Event IDs and room IDs per room version, and the version-independent EventView.
 *   v1–2: `$opaque:server`, carried in the PDU (rooms/fragments/v1-event-ids.md)
 *   v3:   `$` + standard unpadded base64 of the reference hash (rooms/v3.md › Event IDs)
 *   v4+:  `$` + URL-safe unpadded base64 of the reference hash (rooms/fragments/v4-event-ids.md)
 *   v12:  the room ID is the create event's ID with `!` for `$` (appendices › Room IDs)
 */
import { encodeBase64, encodeBase64Url, isJsonObject } from '@hs/core';
import type { RoomVersion } from './room-versions.ts';
import type { EventReference, EventView, PDU } from './types.ts';
import { referenceHash } from './hashes.ts';
import { redactsOf } from './redaction.ts';

export class EventIdError extends Error {
  readonly code = 'missing_event_id';

  constructor(message: string) {
    super(message);
    this.name = 'EventIdError';
  }
}

/** `$` + the reference hash in the version's alphabet (v3+ only). */
export function eventIdFromReferenceHash(hash: Uint8Array, roomVersion: RoomVersion): string {
  return '$' + (roomVersion.eventIdFormat === 'base64' ? encodeBase64(hash) : encodeBase64Url(hash));
}

/**
 * The event's ID: read from the PDU in v1–2 (throws EventIdError if absent), computed from the
 * reference hash from v3 on (any `event_id` on the wire is ignored there).
 */
export function computeEventId(pdu: object, roomVersion: RoomVersion): string {
  if (roomVersion.eventIdFormat === 'wire') {
    const id = (pdu as Record<string, unknown>).event_id;
    if (typeof id !== 'string') throw new EventIdError('room v1–2 events carry their event_id');
    return id;
  }
  return eventIdFromReferenceHash(referenceHash(pdu, roomVersion), roomVersion);
}

/** The room ID a v12 create event defines. */
export function roomIdFromCreateEventId(createEventId: string): string {
  return '!' + createEventId.slice(1);
}

/** The create event ID a v12 room ID names. */
export function createEventIdFromRoomId(roomId: string): string {
  return '$' + roomId.slice(1);
}

/** The `m.room.create` state event (empty state key). */
export function isCreateEvent(pdu: { type?: unknown; state_key?: unknown }): boolean {
  return pdu.type === 'm.room.create' && pdu.state_key === '';
}

/**
 * The room an event belongs to. A v12 create event has no `room_id` — its ID defines the room —
 * so pass its event ID (computed if omitted).
 */
export function eventRoomId(pdu: PDU, roomVersion: RoomVersion, eventId?: string): string | undefined {
  if (roomVersion.roomIdFromCreateEvent && isCreateEvent(pdu)) {
    return roomIdFromCreateEventId(eventId ?? computeEventId(pdu, roomVersion));
  }
  return typeof pdu.room_id === 'string' ? pdu.room_id : undefined;
}

/** The ID in a prev/auth event reference (`[id, hashes]` in v1–2, a bare ID from v3). */
export function referenceEventId(ref: EventReference): string {
  return typeof ref === 'string' ? ref : ref[0];
}

/** How `prev_events`/`auth_events` should reference this event in this room version. */
export function eventReference(pdu: PDU, roomVersion: RoomVersion, eventId?: string): EventReference {
  if (roomVersion.eventIdFormat !== 'wire') return eventId ?? computeEventId(pdu, roomVersion);
  return [eventId ?? computeEventId(pdu, roomVersion), { sha256: encodeBase64(referenceHash(pdu, roomVersion)) }];
}

function referenceIds(refs: unknown): string[] {
  if (!Array.isArray(refs)) return [];
  const out: string[] = [];
  for (const ref of refs) {
    if (typeof ref === 'string') out.push(ref);
    else if (Array.isArray(ref) && typeof ref[0] === 'string') out.push(ref[0]);
  }
  return out;
}

/**
 * The version-independent view the auth rules and state resolution work on. Expects a PDU that
 * passed format validation; pass `eventId` when already known to skip re-hashing.
 */
export function toEventView(pdu: PDU, roomVersion: RoomVersion, eventId?: string): EventView {
  const id = eventId ?? computeEventId(pdu, roomVersion);
  const view: {
    -readonly [K in keyof EventView]: EventView[K];
  } = {
    event_id: id,
    room_id: eventRoomId(pdu, roomVersion, id) ?? '',
    type: pdu.type,
    sender: pdu.sender,
    content: isJsonObject(pdu.content) ? pdu.content : {},
    origin_server_ts: pdu.origin_server_ts,
    depth: pdu.depth,
    auth_events: referenceIds(pdu.auth_events),
    prev_events: referenceIds(pdu.prev_events),
  };
  if (typeof pdu.state_key === 'string') view.state_key = pdu.state_key;
  if (pdu.type === 'm.room.redaction') {
    const redacts = redactsOf(pdu, roomVersion);
    if (redacts !== undefined) view.redacts = redacts;
  }
  return view;
}
