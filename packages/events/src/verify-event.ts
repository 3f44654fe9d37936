/**
 * Receive steps 1–3 (server-server-api › Checks performed on receipt of a PDU), the ones that do
 * not need room state: format (drop) → signatures (drop) → content hash (keep only the redacted
 * copy). Keys come from an injected synchronous lookup, so callers fetch them first (see
 * `requiredSignatures`). Pure: no I/O, typed results, no exceptions for bad input.
 */
import type { RoomVersion } from './room-versions.ts';
import type { PDU } from './types.ts';
import type { GetVerifyKey, ServerSignatureResult } from './event-signing.ts';
import { eventSigningBytes, verifyServerSignatureOver } from './event-signing.ts';
import { checkContentHash, sha256 } from './hashes.ts';
import { eventIdFromReferenceHash, eventRoomId } from './event-id.ts';
import type { EventFormatError, PduFormatOptions } from './pdu-format.ts';
import { validatePduFormat } from './pdu-format.ts';
import { redactEvent, serverNameOf } from './redaction.ts';

export type VerifyEventResult =
  | {
      readonly ok: true;
      /** The event to process further: as received, or its redacted copy if the hash failed. */
      readonly pdu: PDU;
      readonly eventId: string;
      /** For a v12 create event, derived from its ID. */
      readonly roomId: string;
      /** True when the content hash did not match and `pdu` is the redacted copy. */
      readonly redacted: boolean;
    }
  | { readonly ok: false; readonly stage: 'format'; readonly error: EventFormatError }
  | {
      readonly ok: false;
      readonly stage: 'signatures';
      readonly serverName: string;
      readonly failure: Extract<ServerSignatureResult, { ok: false }> | { ok: false; reason: 'no_server_name' };
    };

/**
 * A third-party-invite membership may be sent by a server other than the sender's; the auth
 * rules check its `signed` block instead (server-server-api › Validating hashes and signatures).
 */
function isThirdPartyInvite(pdu: PDU): boolean {
  return (
    pdu.type === 'm.room.member' &&
    pdu.content.membership === 'invite' &&
    Object.hasOwn(pdu.content, 'third_party_invite')
  );
}

/**
 * A v8+ restricted join names the resident user who authorised it; that user's server vouches
 * for the join by signing it (rooms/fragments/v8-auth-rules.md, and Synapse checks it with the
 * other signatures). Only joins, as in auth events selection. `null`: no such requirement;
 * `undefined`: required, but the value names no server (so it can never be satisfied).
 */
function authorisingServer(pdu: PDU, roomVersion: RoomVersion): string | undefined | null {
  if (!roomVersion.restrictedJoinRule || pdu.type !== 'm.room.member') return null;
  const content = pdu.content;
  if (content.membership !== 'join' || !Object.hasOwn(content, 'join_authorised_via_users_server')) return null;
  const via = content.join_authorised_via_users_server;
  return typeof via === 'string' ? serverNameOf(via) : undefined;
}

/**
 * The servers whose signatures an event must carry: the sender's (unless it is a third-party
 * invite), in rooms v1–2 the server in the event ID, and from v8 the server of a join's
 * `join_authorised_via_users_server`. `undefined` entries mean an ID had no server name.
 * Useful for prefetching keys before calling verifyEvent.
 */
export function requiredSignatures(pdu: PDU, roomVersion: RoomVersion): (string | undefined)[] {
  const servers: (string | undefined)[] = [];
  const add = (server: string | undefined) => {
    if (!servers.includes(server)) servers.push(server);
  };
  if (!isThirdPartyInvite(pdu)) add(serverNameOf(pdu.sender));
  if (roomVersion.eventIdFormat === 'wire' && typeof pdu.event_id === 'string') add(serverNameOf(pdu.event_id));
  const authoriser = authorisingServer(pdu, roomVersion);
  if (authoriser !== null) add(authoriser);
  return servers;
}

/** Format, signatures and content hash of a received PDU. */
export function verifyEvent(
  input: unknown,
  roomVersion: RoomVersion,
  getVerifyKey: GetVerifyKey,
  options: PduFormatOptions = {},
): VerifyEventResult {
  const format = validatePduFormat(input, roomVersion, options);
  if (!format.ok) return { ok: false, stage: 'format', error: format.error };
  const pdu = format.pdu;

  // The signed bytes are exactly what the reference hash covers, so hash them for the event ID.
  // Format validation proved the event canonicalisable, so this cannot throw.
  const signed = eventSigningBytes(pdu, roomVersion);
  const eventId =
    roomVersion.eventIdFormat === 'wire'
      ? (pdu.event_id as string)
      : eventIdFromReferenceHash(sha256(signed), roomVersion);

  for (const serverName of requiredSignatures(pdu, roomVersion)) {
    if (serverName === undefined || serverName === '') {
      return { ok: false, stage: 'signatures', serverName: '', failure: { ok: false, reason: 'no_server_name' } };
    }
    const result = verifyServerSignatureOver(pdu, signed, roomVersion, serverName, getVerifyKey);
    if (!result.ok) return { ok: false, stage: 'signatures', serverName, failure: result };
  }

  const roomId = eventRoomId(pdu, roomVersion, eventId) ?? '';
  if (checkContentHash(pdu, roomVersion)) return { ok: true, pdu, eventId, roomId, redacted: false };
  return { ok: true, pdu: redactEvent(pdu, roomVersion), eventId, roomId, redacted: true };
}
