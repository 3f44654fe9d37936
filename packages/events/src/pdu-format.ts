/**
 * Receive step 1 (server-server-api › Checks performed on receipt of a PDU): is this a valid
 * event in the room version's format? Invalid events are dropped. Shapes follow the PDU schemas
 * (api/server-server/definitions/pdu_v*.yaml) and what Synapse accepts, sizes follow
 * client-server-api › Size limits, number rules follow the v1/v6 canonical JSON fragments.
 * Garbage in gives an EventFormatError out, never an exception.
 */
import type { JsonObject } from '@hs/core';
import { CanonicalJsonError, canonicalJson, isJsonObject, parseCanonicalJson } from '@hs/core';
import type { RoomVersion } from './room-versions.ts';
import type { PDU } from './types.ts';
import { isCreateEvent } from './event-id.ts';

/** The whole PDU as canonical JSON, signatures included (client-server-api › Size limits). */
export const MAX_PDU_BYTES = 65536;
/** `sender`, `room_id`, `type`, `state_key` and `event_id` limits. */
export const MAX_ID_BYTES = 255;
/** Limits from the PDU schemas; more would make state resolution and fetching explode. */
export const MAX_PREV_EVENTS = 20;
export const MAX_AUTH_EVENTS = 10;
/** Depth is an int64 on the wire; from v6 the canonical JSON range caps it at 2^53 − 1. */
const MAX_DEPTH_V1 = 2 ** 63;

export type EventFormatReason =
  | 'invalid_json'
  | 'not_an_object'
  | 'missing_field'
  | 'wrong_type'
  | 'unexpected_field'
  | 'not_canonical'
  | 'too_large'
  | 'field_too_long'
  | 'too_many_references'
  | 'bad_depth'
  | 'bad_identifier';

export class EventFormatError extends Error {
  readonly reason: EventFormatReason;
  /** The offending top-level field, when there is one. */
  readonly field: string | undefined;
  /**
   * Set for limits older room versions did not enforce (byte lengths of IDs in v1–10, where
   * only the code point count was checked): store the event as rejected instead of dropping
   * it, so rooms that already contain such events keep working.
   */
  readonly rejectInsteadOfDrop: boolean;

  constructor(reason: EventFormatReason, message: string, field?: string, rejectInsteadOfDrop = false) {
    super(message);
    this.name = 'EventFormatError';
    this.reason = reason;
    this.field = field;
    this.rejectInsteadOfDrop = rejectInsteadOfDrop;
  }
}

export type PduFormatResult =
  | { readonly ok: true; readonly pdu: PDU }
  | { readonly ok: false; readonly error: EventFormatError };

export interface PduFormatOptions {
  /** Enforce the 20 prev_events / 10 auth_events limits (default true). */
  readonly checkReferenceLimits?: boolean;
}

/** Parse federation JSON (strict canonical rules for v6+) and validate it as a PDU. */
export function parsePdu(
  text: string | Uint8Array,
  roomVersion: RoomVersion,
  options: PduFormatOptions = {},
): PduFormatResult {
  let value: unknown;
  try {
    value = parseCanonicalJson(text, { strict: roomVersion.strictCanonicalJson });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const reason = e instanceof CanonicalJsonError && isNumberError(e) ? 'not_canonical' : 'invalid_json';
    return fail(new EventFormatError(reason, `invalid JSON: ${message}`));
  }
  return validatePduFormat(value, roomVersion, options);
}

function isNumberError(e: CanonicalJsonError): boolean {
  return e.code === 'float' || e.code === 'integer_out_of_range' || e.code === 'duplicate_key';
}

/**
 * Validate an already-parsed PDU for `roomVersion`. On success returns the PDU (the same
 * object, or a copy without a malformed `unsigned`, which is not covered by anything).
 */
export function validatePduFormat(
  input: unknown,
  roomVersion: RoomVersion,
  options: PduFormatOptions = {},
): PduFormatResult {
  try {
    return validate(input, roomVersion, options);
  } catch (e) {
    // Defence in depth: a validator bug must not turn garbage into a crash.
    const message = e instanceof Error ? e.message : String(e);
    return fail(new EventFormatError('wrong_type', `malformed event: ${message}`));
  }
}

function fail(error: EventFormatError): PduFormatResult {
  return { ok: false, error };
}

function validate(input: unknown, rv: RoomVersion, options: PduFormatOptions): PduFormatResult {
  if (!isJsonObject(input)) return fail(new EventFormatError('not_an_object', 'a PDU must be a JSON object'));
  let ev: JsonObject = input;

  const missing = (field: string) => fail(new EventFormatError('missing_field', `missing ${field}`, field));
  const wrong = (field: string, what: string) =>
    fail(new EventFormatError('wrong_type', `${field} must be ${what}`, field));

  for (const field of ['type', 'sender']) {
    if (!Object.hasOwn(ev, field)) return missing(field);
    if (typeof ev[field] !== 'string') return wrong(field, 'a string');
  }
  if (Object.hasOwn(ev, 'state_key') && typeof ev.state_key !== 'string') return wrong('state_key', 'a string');

  // room_id: always required, except that a v12 create event must not have one (its ID is the room ID).
  const v12Create = rv.roomIdFromCreateEvent && isCreateEvent(ev);
  if (v12Create) {
    if (Object.hasOwn(ev, 'room_id')) {
      return fail(new EventFormatError('unexpected_field', 'a room v12 create event has no room_id', 'room_id'));
    }
  } else {
    if (!Object.hasOwn(ev, 'room_id')) return missing('room_id');
    if (typeof ev.room_id !== 'string') return wrong('room_id', 'a string');
    if (rv.roomIdFromCreateEvent && !ev.room_id.startsWith('!')) {
      return fail(new EventFormatError('bad_identifier', "room_id must start with '!'", 'room_id'));
    }
  }

  // event_id: carried in v1–2, computed (so forbidden on the wire) from v3.
  if (rv.eventIdFormat === 'wire') {
    if (!Object.hasOwn(ev, 'event_id')) return missing('event_id');
    if (typeof ev.event_id !== 'string') return wrong('event_id', 'a string');
  } else if (Object.hasOwn(ev, 'event_id')) {
    return fail(new EventFormatError('unexpected_field', 'event IDs are computed in this room version', 'event_id'));
  }

  for (const field of ['origin_server_ts', 'depth']) {
    if (!Object.hasOwn(ev, field)) return missing(field);
    const n = ev[field];
    if (typeof n !== 'number' || !Number.isInteger(n)) return wrong(field, 'an integer');
  }
  const depth = ev.depth as number;
  if (depth < 0 || depth > MAX_DEPTH_V1) {
    return fail(new EventFormatError('bad_depth', `depth ${depth} is out of range`, 'depth'));
  }

  if (!Object.hasOwn(ev, 'content')) return missing('content');
  if (!isJsonObject(ev.content)) return wrong('content', 'an object');

  if (!Object.hasOwn(ev, 'hashes')) return missing('hashes');
  const hashes = ev.hashes;
  if (!isJsonObject(hashes) || !Object.values(hashes).every((h) => typeof h === 'string')) {
    return wrong('hashes', 'an object of strings');
  }
  if (!Object.hasOwn(hashes, 'sha256')) return missing('hashes.sha256');

  if (!Object.hasOwn(ev, 'signatures')) return missing('signatures');
  const sigs = ev.signatures;
  if (!isJsonObject(sigs)) return wrong('signatures', 'an object');
  for (const byServer of Object.values(sigs)) {
    if (!isJsonObject(byServer) || !Object.values(byServer).every((s) => typeof s === 'string')) {
      return wrong('signatures', 'server name → key ID → string');
    }
  }

  for (const field of ['prev_events', 'auth_events']) {
    if (!Object.hasOwn(ev, field)) return missing(field);
    const refs = ev[field];
    if (!Array.isArray(refs)) return wrong(field, 'an array');
    const ok = rv.eventIdFormat === 'wire' ? refs.every(isV1Reference) : refs.every((r) => typeof r === 'string');
    if (!ok) return wrong(field, rv.eventIdFormat === 'wire' ? 'an array of [event_id, hashes] pairs' : 'an array of event IDs');
  }
  if (options.checkReferenceLimits !== false) {
    if ((ev.prev_events as unknown[]).length > MAX_PREV_EVENTS) {
      return fail(new EventFormatError('too_many_references', `more than ${MAX_PREV_EVENTS} prev_events`, 'prev_events'));
    }
    if ((ev.auth_events as unknown[]).length > MAX_AUTH_EVENTS) {
      return fail(new EventFormatError('too_many_references', `more than ${MAX_AUTH_EVENTS} auth_events`, 'auth_events'));
    }
  }

  // `unsigned` is not covered by hashes or signatures; a malformed one is simply discarded.
  if (Object.hasOwn(ev, 'unsigned') && !isJsonObject(ev.unsigned)) {
    const { unsigned: _dropped, ...rest } = ev;
    ev = rest;
  }

  for (const field of ['sender', 'room_id', 'type', 'state_key', 'event_id']) {
    const error = checkIdLength(ev, field, rv);
    if (error !== undefined) return fail(error);
  }

  // Canonical form: enforces the v6+ number rules and measures the size limit in one pass.
  // `unsigned` is left out: intermediaries may add to it and it is not part of the signed event.
  const { unsigned: _u, ...sized } = ev;
  let canonical: string;
  try {
    canonical = canonicalJson(sized, { lenientNumbers: !rv.strictCanonicalJson });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return fail(new EventFormatError('not_canonical', `not canonical JSON: ${message}`));
  }
  const bytes = Buffer.byteLength(canonical, 'utf8');
  if (bytes > MAX_PDU_BYTES) {
    return fail(new EventFormatError('too_large', `event is ${bytes} bytes, over ${MAX_PDU_BYTES}`));
  }
  return { ok: true, pdu: ev as unknown as PDU };
}

function isV1Reference(ref: unknown): boolean {
  return (
    Array.isArray(ref) &&
    ref.length === 2 &&
    typeof ref[0] === 'string' &&
    isJsonObject(ref[1]) &&
    Object.values(ref[1]).every((h) => typeof h === 'string')
  );
}

/**
 * IDs are limited to 255 bytes. Room versions up to 10 were only ever checked by code point count
 * (Synapse), so for them a byte-only violation asks for rejection rather than a drop.
 */
function checkIdLength(ev: JsonObject, field: string, rv: RoomVersion): EventFormatError | undefined {
  const value = ev[field];
  if (typeof value !== 'string') return undefined;
  if (value.length <= MAX_ID_BYTES && Buffer.byteLength(value, 'utf8') <= MAX_ID_BYTES) return undefined;
  const codePoints = [...value].length;
  const soft = codePoints <= MAX_ID_BYTES && !rv.strictIdByteLimits;
  return new EventFormatError('field_too_long', `${field} is longer than ${MAX_ID_BYTES} bytes`, field, soft);
}
