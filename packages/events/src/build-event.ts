/**
 * Building our own events: lay the fields out in the room version's PDU format, add the content
 * hash, sign the redacted form and work out the event ID (server-server-api › Signing Events).
 */
import { randomBytes } from 'node:crypto';
import type { JsonObject } from '@hs/core';
import { encodeBase64 } from '@hs/core';
import type { RoomVersion } from './room-versions.ts';
import type { EventReference, PDU } from './types.ts';
import { contentHash, sha256 } from './hashes.ts';
import { eventIdFromReferenceHash, isCreateEvent, roomIdFromCreateEventId } from './event-id.ts';
import { eventSigningBytes } from './event-signing.ts';
import { isValidSigningKeyId, signBytes, SigningError } from './signing.ts';

export interface BuildEventInput {
  readonly roomVersion: RoomVersion;
  /** Required except for a room v12 create event, whose ID defines the room. */
  readonly roomId?: string;
  readonly sender: string;
  readonly type: string;
  readonly stateKey?: string;
  readonly content: JsonObject;
  /**
   * Bare event IDs, or for rooms v1–2 `[event_id, {sha256}]` pairs (see `eventReference`);
   * a bare ID in a v1–2 room is sent as `[id, {}]`.
   */
  readonly prevEvents: readonly EventReference[];
  readonly authEvents: readonly EventReference[];
  readonly depth: number;
  readonly originServerTs: number;
  /** Our server name: the signing entity (and the event ID's domain in v1–2). */
  readonly serverName: string;
  readonly keyId: string;
  /** 32-byte seed or 64-byte libsodium secret key. */
  readonly secretKey: Uint8Array;
  /** The redacted event: top-level in v1–10, moved into `content.redacts` from v11. */
  readonly redacts?: string;
  /** Not signed; sent along as is. */
  readonly unsigned?: JsonObject;
  /** Rooms v1–2 only: the opaque part of the event ID (random when omitted). */
  readonly eventIdLocalpart?: string;
}

export interface BuiltEvent {
  readonly pdu: PDU;
  readonly eventId: string;
  /** The room ID (derived from the event ID for a v12 create event). */
  readonly roomId: string;
}

function references(refs: readonly EventReference[], rv: RoomVersion): EventReference[] {
  if (rv.eventIdFormat === 'wire') return refs.map((r) => (typeof r === 'string' ? [r, {}] : [r[0], { ...r[1] }]));
  return refs.map((r) => (typeof r === 'string' ? r : r[0]));
}

/** A complete, hashed and signed PDU for `input.roomVersion`. Throws on invalid input. */
export function buildEvent(input: BuildEventInput): BuiltEvent {
  const rv = input.roomVersion;
  if (!isValidSigningKeyId(input.keyId)) throw new SigningError('invalid_key_id', `invalid signing key ID ${input.keyId}`);
  if (!Number.isSafeInteger(input.depth) || input.depth < 0) throw new RangeError('depth must be a non-negative integer');
  if (!Number.isSafeInteger(input.originServerTs)) throw new RangeError('originServerTs must be an integer');

  const ev: Record<string, unknown> = {
    auth_events: references(input.authEvents, rv),
    content: input.content,
    depth: input.depth,
    origin_server_ts: input.originServerTs,
    prev_events: references(input.prevEvents, rv),
    sender: input.sender,
    type: input.type,
  };
  if (input.stateKey !== undefined) ev.state_key = input.stateKey;
  const v12Create = rv.roomIdFromCreateEvent && isCreateEvent(ev);
  if (!v12Create) {
    if (input.roomId === undefined) throw new TypeError('roomId is required');
    ev.room_id = input.roomId;
  }
  if (input.redacts !== undefined) {
    if (rv.redactsInContent) ev.content = { ...input.content, redacts: input.redacts };
    else ev.redacts = input.redacts;
  }
  if (rv.eventIdFormat === 'wire') {
    const localpart = input.eventIdLocalpart ?? randomBytes(12).toString('base64url');
    ev.event_id = `$${localpart}:${input.serverName}`;
  }

  ev.hashes = { sha256: contentHash(ev, rv) };
  // The signed bytes are also the reference hash input: one canonicalisation for both.
  const signed = eventSigningBytes(ev, rv);
  ev.signatures = { [input.serverName]: { [input.keyId]: encodeBase64(signBytes(signed, input.secretKey)) } };
  if (input.unsigned !== undefined) ev.unsigned = input.unsigned;

  const eventId = rv.eventIdFormat === 'wire' ? (ev.event_id as string) : eventIdFromReferenceHash(sha256(signed), rv);
  const roomId = v12Create ? roomIdFromCreateEventId(eventId) : (input.roomId as string);
  return { pdu: ev as unknown as PDU, eventId, roomId };
}
