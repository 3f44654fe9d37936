/**
 * Signed JSON as clients produce it for device keys, cross-signing keys and signatures: ed25519 over
 * the canonical JSON of the object without `signatures` and `unsigned` (appendices › Signing JSON).
 */
import sodium from 'libsodium-wrappers';
import { canonicalJson, CanonicalJsonError, canonicalJsonBytes, errors, isJsonObject, tryDecodeBase64, type JsonObject } from '@hs/core';

await sodium.ready;

const ED25519_PUBLIC_KEY_BYTES = 32;
const ED25519_SIGNATURE_BYTES = 64;

/** The object without the parts a signature does not cover. */
export function unsignedPart(obj: JsonObject): JsonObject {
  const { signatures: _s, unsigned: _u, ...rest } = obj;
  return rest;
}

/** Canonical JSON text of `value`; input that has none (floats, lone surrogates, huge integers) is a 400. */
export function canonicalOrBadJson(value: unknown, what: string): string {
  try {
    return canonicalJson(value);
  } catch (e) {
    if (e instanceof CanonicalJsonError) throw errors.badJson(`${what} is not valid canonical JSON: ${e.message}`);
    throw e;
  }
}

/** Whether two signed objects are the same key, ignoring their signatures (and `unsigned`). */
export function sameSignedContent(a: JsonObject, b: JsonObject): boolean {
  try {
    return canonicalJson(unsignedPart(a)) === canonicalJson(unsignedPart(b));
  } catch {
    return false;
  }
}

/** A 32-byte ed25519 public key from its unpadded base64 form, or undefined. */
export function decodePublicKey(b64: unknown): Uint8Array | undefined {
  if (typeof b64 !== 'string') return undefined;
  const bytes = tryDecodeBase64(b64);
  return bytes?.length === ED25519_PUBLIC_KEY_BYTES ? bytes : undefined;
}

/**
 * Whether `obj.signatures[signer][keyId]` is a valid signature by `publicKey`. Never throws: malformed
 * signatures, keys or unencodable content all count as invalid.
 */
export function hasValidSignature(obj: JsonObject, signer: string, keyId: string, publicKey: Uint8Array): boolean {
  const sigs = obj.signatures;
  if (!isJsonObject(sigs)) return false;
  const bySigner = sigs[signer];
  if (!isJsonObject(bySigner)) return false;
  const sigText = bySigner[keyId];
  if (typeof sigText !== 'string') return false;
  const sig = tryDecodeBase64(sigText);
  if (sig?.length !== ED25519_SIGNATURE_BYTES || publicKey.length !== ED25519_PUBLIC_KEY_BYTES) return false;
  let message: Uint8Array;
  try {
    message = canonicalJsonBytes(unsignedPart(obj));
  } catch {
    return false;
  }
  try {
    return sodium.crypto_sign_verify_detached(sig, message, publicKey);
  } catch {
    return false;
  }
}

/** The signature text at `obj.signatures[signer][keyId]`, if it is a string. */
export function signatureOf(obj: JsonObject, signer: string, keyId: string): string | undefined {
  const sigs = obj.signatures;
  if (!isJsonObject(sigs)) return undefined;
  const bySigner = sigs[signer];
  if (!isJsonObject(bySigner)) return undefined;
  const s = bySigner[keyId];
  return typeof s === 'string' ? s : undefined;
}

/** Add `signature` under `signatures[signer][keyId]` of a (freshly parsed, caller-owned) object. */
export function addSignature(obj: JsonObject, signer: string, keyId: string, signature: string): void {
  let sigs = obj.signatures;
  if (!isJsonObject(sigs)) {
    sigs = {};
    obj.signatures = sigs;
  }
  let bySigner = sigs[signer];
  if (!isJsonObject(bySigner)) {
    bySigner = {};
    sigs[signer] = bySigner;
  }
  bySigner[keyId] = signature;
}
