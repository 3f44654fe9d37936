/**
 * Hashing and signing whole events (server-server-api › Signing Events): the content hash goes
 * in `hashes.sha256`, then the *redacted* event is signed, so signatures survive redaction.
 */
import type { JsonObject } from '@hs/core';
import { encodeBase64, isJsonObject, tryDecodeBase64AnyAlphabet } from '@hs/core';
import type { RoomVersion } from './room-versions.ts';
import type { Signatures } from './types.ts';
import { contentHash } from './hashes.ts';
import { redactEvent } from './redaction.ts';
import { isValidSigningKeyId, signBytes, signedBytesOf, SigningError, verifyBytes } from './signing.ts';

/** Looks up a server's public key. `atTs` is the event's origin_server_ts from room v5 on
 * (the key must have been valid then — the lookup's job), and 0 before (any key ever used). */
export type GetVerifyKey = (serverName: string, keyId: string, atTs: number) => Uint8Array | undefined;

function numberOptions(rv: RoomVersion): { lenientNumbers: boolean } {
  return { lenientNumbers: !rv.strictCanonicalJson };
}

/** The bytes an event signature covers: the redacted event without signatures and unsigned. */
export function eventSigningBytes(event: object, roomVersion: RoomVersion): Uint8Array {
  return signedBytesOf(redactEvent(event, roomVersion) as JsonObject, numberOptions(roomVersion));
}

/**
 * Add our signature to an event whose hashes are already final (e.g. co-signing a join or an
 * invite). Returns a copy; existing signatures are kept.
 */
export function signEvent<T extends object>(
  event: T,
  roomVersion: RoomVersion,
  serverName: string,
  keyId: string,
  seedOrSecretKey: Uint8Array,
): T & { signatures: Signatures } {
  if (!isValidSigningKeyId(keyId)) throw new SigningError('invalid_key_id', `invalid signing key ID ${keyId}`);
  const signature = encodeBase64(signBytes(eventSigningBytes(event, roomVersion), seedOrSecretKey));
  const src = event as Record<string, unknown>;
  const existing = isJsonObject(src.signatures) ? (src.signatures as Record<string, Record<string, string>>) : {};
  const mine = isJsonObject(existing[serverName]) ? existing[serverName] : {};
  return { ...event, signatures: { ...existing, [serverName]: { ...mine, [keyId]: signature } } };
}

/**
 * The spec's hash-and-sign algorithm: set `hashes.sha256` to the content hash, then sign the
 * redacted event. Returns a copy. This is what produces the appendix's event test vectors.
 */
export function hashAndSignEvent<T extends object>(
  event: T,
  roomVersion: RoomVersion,
  serverName: string,
  keyId: string,
  seedOrSecretKey: Uint8Array,
): T & { hashes: { sha256: string } & Record<string, string>; signatures: Signatures } {
  const src = event as Record<string, unknown>;
  const oldHashes = isJsonObject(src.hashes) ? (src.hashes as Record<string, string>) : {};
  const hashed = { ...event, hashes: { ...oldHashes, sha256: contentHash(event, roomVersion) } };
  return signEvent(hashed, roomVersion, serverName, keyId, seedOrSecretKey);
}

export type ServerSignatureResult =
  | { readonly ok: true; readonly keyIds: readonly string[] }
  | {
      readonly ok: false;
      readonly reason: 'not_signed' | 'no_supported_key' | 'no_known_key' | 'bad_signature' | 'not_encodable';
      readonly keyId?: string;
    };

/**
 * Check `serverName`'s signatures on an event (appendices › Checking for a Signature, with the
 * server-server rule that unknown or expired keys are skipped): every ed25519 signature whose key
 * the lookup knows must verify, and there must be at least one.
 */
export function verifyServerSignature(
  event: object,
  roomVersion: RoomVersion,
  serverName: string,
  getVerifyKey: GetVerifyKey,
): ServerSignatureResult {
  let message: Uint8Array;
  try {
    message = eventSigningBytes(event, roomVersion);
  } catch {
    return { ok: false, reason: 'not_encodable' };
  }
  return verifyServerSignatureOver(event, message, roomVersion, serverName, getVerifyKey);
}

/** verifyServerSignature with the signed bytes precomputed (they are the same for every server). */
export function verifyServerSignatureOver(
  event: object,
  message: Uint8Array,
  roomVersion: RoomVersion,
  serverName: string,
  getVerifyKey: GetVerifyKey,
): ServerSignatureResult {
  const sigs = (event as Record<string, unknown>).signatures;
  const byServer = isJsonObject(sigs) && Object.hasOwn(sigs, serverName) ? sigs[serverName] : undefined;
  if (!isJsonObject(byServer)) return { ok: false, reason: 'not_signed' };
  const keyIds = Object.keys(byServer).filter((k) => k.startsWith('ed25519:'));
  if (keyIds.length === 0) return { ok: false, reason: 'no_supported_key' };
  const ts = (event as Record<string, unknown>).origin_server_ts;
  const atTs = roomVersion.enforceKeyValidity && typeof ts === 'number' ? ts : 0;
  const verified: string[] = [];
  for (const keyId of keyIds) {
    const key = getVerifyKey(serverName, keyId, atTs);
    if (key === undefined) continue;
    const encoded = byServer[keyId];
    const signature = typeof encoded === 'string' ? tryDecodeBase64AnyAlphabet(encoded) : undefined;
    if (signature === undefined || !verifyBytes(signature, message, key)) {
      return { ok: false, reason: 'bad_signature', keyId };
    }
    verified.push(keyId);
  }
  if (verified.length === 0) return { ok: false, reason: 'no_known_key' };
  return { ok: true, keyIds: verified };
}
