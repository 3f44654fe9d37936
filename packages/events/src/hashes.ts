/**
 * Content and reference hashes (server-server-api › Signing Events). The content hash covers the
 * full event and travels in `hashes.sha256`; the reference hash covers the redacted event and is
 * the event ID from room version 3 on.
 */
import { createHash } from 'node:crypto';
import { canonicalJsonBytes, encodeBase64, isJsonObject, tryDecodeBase64AnyAlphabet } from '@hs/core';
import type { RoomVersion } from './room-versions.ts';
import { redactEvent } from './redaction.ts';

export function sha256(data: Uint8Array | string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

/** Rooms v1–5 must not enforce the canonical number rules, so hash what they carry as is. */
function numberOptions(roomVersion: RoomVersion): { lenientNumbers: boolean } {
  return { lenientNumbers: !roomVersion.strictCanonicalJson };
}

/**
 * SHA-256 of the canonical event without `unsigned`, `signatures` and `hashes`.
 * Throws CanonicalJsonError if the event cannot be canonicalised.
 */
export function contentHashBytes(event: object, roomVersion: RoomVersion): Uint8Array {
  const { unsigned: _u, signatures: _s, hashes: _h, ...rest } = event as Record<string, unknown>;
  return sha256(canonicalJsonBytes(rest, numberOptions(roomVersion)));
}

/** The content hash as it appears in `hashes.sha256` (unpadded standard base64). */
export function contentHash(event: object, roomVersion: RoomVersion): string {
  return encodeBase64(contentHashBytes(event, roomVersion));
}

/** Whether `hashes.sha256` matches the event; false for a missing/malformed hash or bad JSON. */
export function checkContentHash(event: object, roomVersion: RoomVersion): boolean {
  const hashes = (event as Record<string, unknown>).hashes;
  if (!isJsonObject(hashes) || typeof hashes.sha256 !== 'string') return false;
  const claimed = tryDecodeBase64AnyAlphabet(hashes.sha256);
  if (claimed === undefined || claimed.length !== 32) return false;
  let actual: Uint8Array;
  try {
    actual = contentHashBytes(event, roomVersion);
  } catch {
    return false;
  }
  return Buffer.compare(claimed, actual) === 0;
}

/**
 * SHA-256 of the canonical *redacted* event without `signatures` and `unsigned`.
 * Throws CanonicalJsonError if the event cannot be canonicalised.
 */
export function referenceHash(event: object, roomVersion: RoomVersion): Uint8Array {
  const { signatures: _s, unsigned: _u, ...rest } = redactEvent(event, roomVersion) as Record<string, unknown>;
  return sha256(canonicalJsonBytes(rest, numberOptions(roomVersion)));
}
