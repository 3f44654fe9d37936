/**
 * Signing JSON (appendices › Signing JSON): ed25519 over the canonical JSON of an object without
 * its `signatures` and `unsigned`, unpadded base64 signatures filed under
 * `signatures[signingName][keyId]`.
 */
import { createPrivateKey, sign as nodeSign, type KeyObject } from 'node:crypto';
import sodium from 'libsodium-wrappers';
import type { JsonObject } from '@hs/core';
import { canonicalJsonBytes, CanonicalJsonError, encodeBase64, isJsonObject, tryDecodeBase64AnyAlphabet } from '@hs/core';

await sodium.ready;

export const ED25519_SEED_BYTES = 32;
export const ED25519_SECRET_KEY_BYTES = 64;
export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;

export class SigningError extends Error {
  readonly code: 'invalid_key_id' | 'invalid_key' | 'not_encodable';

  constructor(code: SigningError['code'], message: string) {
    super(message);
    this.name = 'SigningError';
    this.code = code;
  }
}

export interface Ed25519KeyPair {
  readonly publicKey: Uint8Array;
  /** libsodium's 64-byte secret key (seed followed by the public key). */
  readonly secretKey: Uint8Array;
}

/** Derive the key pair of a 32-byte seed (the form servers store their signing keys in). */
export function keyPairFromSeed(seed: Uint8Array): Ed25519KeyPair {
  if (!(seed instanceof Uint8Array) || seed.length !== ED25519_SEED_BYTES) {
    throw new SigningError('invalid_key', `an ed25519 seed is ${ED25519_SEED_BYTES} bytes`);
  }
  const { publicKey, privateKey } = sodium.crypto_sign_seed_keypair(seed);
  return { publicKey, secretKey: privateKey };
}

/** A fresh random seed for a new signing key. */
export function generateSigningSeed(): Uint8Array {
  return sodium.randombytes_buf(ED25519_SEED_BYTES);
}

/** The public key of a 32-byte seed or 64-byte secret key. */
export function publicKeyOf(seedOrSecretKey: Uint8Array): Uint8Array {
  // libsodium's secret key is seed ‖ public key.
  if (seedOrSecretKey.length === ED25519_SECRET_KEY_BYTES) return seedOrSecretKey.slice(ED25519_SEED_BYTES);
  return keyPairFromSeed(seedOrSecretKey).publicKey;
}

/** Key versions are `[a-zA-Z0-9_]+` (server-server keys.yaml); only ed25519 is defined. */
const KEY_ID = /^ed25519:[a-zA-Z0-9_]+$/;

/** Whether `keyId` is a well-formed ed25519 signing key identifier `ed25519:<version>`. */
export function isValidSigningKeyId(keyId: string): boolean {
  return typeof keyId === 'string' && KEY_ID.test(keyId);
}

/** Split `algorithm:version`; undefined when there is no colon. */
export function parseKeyId(keyId: string): { algorithm: string; version: string } | undefined {
  const i = keyId.indexOf(':');
  if (i <= 0) return undefined;
  return { algorithm: keyId.slice(0, i), version: keyId.slice(i + 1) };
}

/** The 32-byte seed of a seed or of a libsodium secret key (seed ‖ public key). */
function seedOf(seedOrSecretKey: Uint8Array): Uint8Array {
  if (!(seedOrSecretKey instanceof Uint8Array)) throw new SigningError('invalid_key', 'signing key must be bytes');
  if (seedOrSecretKey.length === ED25519_SECRET_KEY_BYTES) return seedOrSecretKey.subarray(0, ED25519_SEED_BYTES);
  if (seedOrSecretKey.length !== ED25519_SEED_BYTES) {
    throw new SigningError('invalid_key', 'signing key must be a 32-byte seed or a 64-byte secret key');
  }
  return seedOrSecretKey;
}

/** PKCS#8 DER of an Ed25519 private key, up to the 32-byte seed that follows (RFC 8410). */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const nativeKeys = new WeakMap<Uint8Array, KeyObject>();

/**
 * Signing goes through Node's crypto (OpenSSL), about a quarter cheaper per event than libsodium's
 * WebAssembly build; Ed25519 signatures are deterministic, so both give the same bytes. The key object
 * is made once per key.
 */
function nativeKeyOf(seedOrSecretKey: Uint8Array): KeyObject {
  let key = nativeKeys.get(seedOrSecretKey);
  if (key === undefined) {
    key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seedOf(seedOrSecretKey)]), format: 'der', type: 'pkcs8' });
    nativeKeys.set(seedOrSecretKey, key);
  }
  return key;
}

/** Raw ed25519 signature of `message`. */
export function signBytes(message: Uint8Array, seedOrSecretKey: Uint8Array): Uint8Array {
  return new Uint8Array(nodeSign(null, message, nativeKeyOf(seedOrSecretKey)));
}

/** Raw ed25519 verification; false (never an exception) on malformed keys or signatures. */
export function verifyBytes(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== ED25519_SIGNATURE_BYTES || publicKey.length !== ED25519_PUBLIC_KEY_BYTES) return false;
  try {
    return sodium.crypto_sign_verify_detached(signature, message, publicKey);
  } catch {
    return false;
  }
}

/** The bytes a JSON signature covers: canonical JSON without `signatures` and `unsigned`. */
export function signedBytesOf(obj: JsonObject, options: { lenientNumbers?: boolean } = {}): Uint8Array {
  const { signatures: _s, unsigned: _u, ...rest } = obj;
  return canonicalJsonBytes(rest, options);
}

/**
 * Sign `obj` as `signingName` with `keyId`; returns a copy with the signature merged into any
 * existing `signatures` (the input is not modified). `unsigned` is kept but not signed.
 */
export function signJson<T extends JsonObject>(
  obj: T,
  signingName: string,
  keyId: string,
  seedOrSecretKey: Uint8Array,
  options: { lenientNumbers?: boolean } = {},
): T & { signatures: Record<string, Record<string, string>> } {
  if (!isValidSigningKeyId(keyId)) throw new SigningError('invalid_key_id', `invalid signing key ID ${keyId}`);
  let message: Uint8Array;
  try {
    message = signedBytesOf(obj, options);
  } catch (e) {
    if (e instanceof CanonicalJsonError) throw new SigningError('not_encodable', `cannot sign: ${e.message}`);
    throw e;
  }
  const signature = encodeBase64(signBytes(message, seedOrSecretKey));
  const existing = isJsonObject(obj.signatures) ? (obj.signatures as Record<string, Record<string, string>>) : {};
  const signatures: Record<string, Record<string, string>> = { ...existing };
  signatures[signingName] = { ...(isJsonObject(existing[signingName]) ? existing[signingName] : {}), [keyId]: signature };
  return { ...obj, signatures };
}

/**
 * Check one signature: `obj.signatures[signingName][keyId]` against `publicKey`. False for a
 * missing or malformed signature, an unencodable object or a bad key — never an exception.
 */
export function verifyJsonSignature(
  obj: JsonObject,
  signingName: string,
  keyId: string,
  publicKey: Uint8Array,
  options: { lenientNumbers?: boolean } = {},
): boolean {
  const sigs = obj.signatures;
  if (!isJsonObject(sigs)) return false;
  const byServer = Object.hasOwn(sigs, signingName) ? sigs[signingName] : undefined;
  if (!isJsonObject(byServer) || !Object.hasOwn(byServer, keyId)) return false;
  const encoded = byServer[keyId];
  if (typeof encoded !== 'string') return false;
  const signature = tryDecodeBase64AnyAlphabet(encoded);
  if (signature === undefined) return false;
  let message: Uint8Array;
  try {
    message = signedBytesOf(obj, options);
  } catch {
    return false;
  }
  return verifyBytes(signature, message, publicKey);
}
